#!/usr/bin/env bash
# A whole sweep in a scratch folder: submit a grid, run it with one worker, read the results.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-$(mktemp -d)}"
cd "$work"
echo "# working in $work"

for lr in 0.001 0.01 0.1; do
  for model in resnet vit; do
    labtasker task submit --name grid_search --metadata '{"tags": ["v1"]}' -- --lr=$lr --model=$model
  done
done

labtasker loop -- python "$here/train.py" --lr '%(lr)' --model '%(model)'

echo "# best runs:"
labtasker task ls -s success -S 'summary.acc:desc' --limit 3 --no-pager
echo "# the sweep's answer, args against metrics:"
labtasker results --sort acc:desc
echo "# the queue is plain files:"
ls "$(labtasker queue path)/done" | head -3
