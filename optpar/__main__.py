from optpar.cli import main

raise SystemExit(main())
