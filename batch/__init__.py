"""The batch side: retraining, rescoring, RFM scores, profiles, drift, verification."""
