from mamlviz.cli import main

raise SystemExit(main())
