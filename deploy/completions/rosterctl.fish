complete --keep-order --exclusive --command rosterctl --arguments "(ROSTERCTL_COMPLETE=fish rosterctl -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
