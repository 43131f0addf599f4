"""Writes tiny CIFAR "python version" archives with real Python pickles and numpy arrays.

The Go tests of package data read them to check the pickle loader against what Python and numpy
(here numpy 2, pickling from Python 3) really write; the original CIFAR files were written by
Python 2, which the Go tests reproduce byte by byte themselves.

Run with the reference environment, from the repository root:
    /root/refenv/bin/python tools/reference/make_cifar_pickle_fixtures.py
Outputs (committed): testdata/data/cifar-10-python-tiny.tar.gz (pickle protocol 2),
testdata/data/cifar-100-python-tiny.tar.gz (pickle protocol 4).

Contents (the Go test recomputes them): image k of a batch has pixel byte j equal to
(7*k + 3*j + seed) % 256 for j in 0..3071 (seed = 11 * batch number, test batch 99); its label is
(k + seed) % classes (CIFAR-100 coarse label: (k + seed) % 20). CIFAR-10 train batch b (1..5) has
b+1 images and seed 11*b; the CIFAR-100 train file has 6 images and seed 11; test batches have 4
images and seed 99.
"""
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

OUT = Path("testdata/data")
CIFAR10_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


def batch(n, seed, classes, hundred):
    k = np.arange(n).reshape(n, 1)
    j = np.arange(3072).reshape(1, 3072)
    data = ((7 * k + 3 * j + seed) % 256).astype(np.uint8)
    d = {b"batch_label": b"tiny batch", b"data": data, b"filenames": [b"img%d.png" % i for i in range(n)]}
    labels = [int((i + seed) % classes) for i in range(n)]
    if hundred:
        d[b"fine_labels"] = labels
        d[b"coarse_labels"] = [int((i + seed) % 20) for i in range(n)]
    else:
        d[b"labels"] = labels
    return d


def add(tar, name, obj, protocol):
    b = pickle.dumps(obj, protocol=protocol)
    info = tarfile.TarInfo(name)
    info.size = len(b)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(b))


def write(path, members, protocol):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, obj in members:
            add(tar, name, obj, protocol)
    import gzip
    path.write_bytes(gzip.compress(buf.getvalue(), mtime=0))
    print(path, path.stat().st_size, "bytes")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    d = "cifar-10-batches-py/"
    members = [(d + "batches.meta", {b"label_names": CIFAR10_NAMES, b"num_cases_per_batch": 10000, b"num_vis": 3072})]
    members += [(d + "data_batch_%d" % b, batch(b + 1, 11 * b, 10, False)) for b in range(1, 6)]
    members += [(d + "test_batch", batch(4, 99, 10, False))]
    write(OUT / "cifar-10-python-tiny.tar.gz", members, 2)

    d = "cifar-100-python/"
    fine = [b"class%02d" % i for i in range(100)]
    coarse = [b"super%02d" % i for i in range(20)]
    members = [(d + "meta", {b"fine_label_names": fine, b"coarse_label_names": coarse})]
    members += [(d + "train", batch(6, 11, 100, True)), (d + "test", batch(4, 99, 100, True))]
    write(OUT / "cifar-100-python-tiny.tar.gz", members, 4)


if __name__ == "__main__":
    main()
