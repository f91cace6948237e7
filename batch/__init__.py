"""The batch side: retraining, rescoring, RFM scores, profiles, drift, verification.

Where each decision is documented (module docstrings):

- choosing k (Kneedle knee, refined by silhouette) ............ batch/kmeans_select.py
- the two engines' shared contract (scaler, silhouette, record)  batch/fitting.py
- stable identity (shared space, matching) and segment names ... batch/identity.py
- rescore steps, idempotency and causes ........................ batch/rescore.py
- classic RFM quintiles (tie handling) and the rule table ...... batch/rfm_rules.py
- profiles, snapshots and the chi-square test .................. batch/snapshot.py,
                                                                 batch/demographics.py
- PSI (epsilon, bins) and the migration matrix's source ........ batch/drift.py,
                                                                 batch/drift_job.py
- scheduler timing, bootstrap, restart and signals ............. batch/scheduler.py
- independent recompute of customer_rfm ........................ batch/verify.py

Pure modules (no Spark): kmeans_select, fitting, identity, drift, demographics, rfm_rules,
train_sklearn, model_report. Jobs (read, compute, write): retrain, rescore, rfm_scores,
snapshot, drift_job, verify, compact, scheduler; they reach the lake only through the base's
lake layer (`segstream.lake`) and score only through `segstream.model.segments`.
"""
