complete --keep-order --exclusive --command rosterctl --arguments "(COMPLETE=fish rosterctl -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
