import sys

from tests.bench.load.bench import main

sys.exit(main())
