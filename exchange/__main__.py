from exchange.cli import main

raise SystemExit(main())
