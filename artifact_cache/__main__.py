from artifact_cache.cli import main

raise SystemExit(main())
