"""``python -m hil.campaign SPEC.yaml``: run a campaign (:mod:`hil.campaign.command`)."""

import sys

from hil.campaign.command import main

sys.exit(main())
