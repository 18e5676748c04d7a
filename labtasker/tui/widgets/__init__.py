"""The TUI's widgets: the state tree, the task table, the detail pane, the filter box, dialogs."""
