"""Quality: evaluation forms, evaluations of interactions, calibration and agent scorecards."""
