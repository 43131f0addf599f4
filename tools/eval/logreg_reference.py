#!/usr/bin/env python3
"""Writes testdata/eval/logreg_sklearn.json: a small 3-class problem fitted by scikit-learn's
LogisticRegression (lbfgs, multinomial, L2, fit_intercept) at several C, with its class
probabilities on held-out points, for cliplib/eval's TestTrainLogRegMatchesScikitLearn.

    /root/refenv/bin/python tools/eval/logreg_reference.py   (needs numpy and scikit-learn)
"""
import json, os
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

rng = np.random.default_rng(7)
centres = np.array([[1.0, 0, 0, 0.5], [0, 1.0, 0, -0.5], [0, 0, 1.0, 0]])
def gen(n):
    y = np.arange(n) % 3
    X = centres[y] + rng.normal(scale=0.6, size=(n, 4))
    return X.astype(np.float32), y
Xtr, ytr = gen(60)
Xte, _ = gen(12)
fits = []
for C in (0.01, 0.5, 10.0):
    m = LogisticRegression(C=C, max_iter=10000, tol=1e-10).fit(Xtr.astype(np.float64), ytr)
    fits.append({"C": C, "proba": m.predict_proba(Xte.astype(np.float64)).tolist()})
out = {"sklearn": sklearn.__version__, "train_x": Xtr.tolist(), "train_y": ytr.tolist(), "test_x": Xte.tolist(), "fits": fits}
path = os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "eval", "logreg_sklearn.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path, "scikit-learn", sklearn.__version__)
