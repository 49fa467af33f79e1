"""`python -m tinygrad_np mnist` / `python -m tinygrad_np compare`: see `tinygrad_np.cli`."""
from tinygrad_np.cli import main

raise SystemExit(main())
