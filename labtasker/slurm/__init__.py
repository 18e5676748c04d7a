"""Workers on a Slurm cluster: the sbatch script (pure), Slurm's commands (at the edge),
the records of what was submitted, and a job's time limit as the loop sees it."""
