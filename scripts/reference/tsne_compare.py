#!/usr/bin/env python3
"""Runs sklearn's TSNE and `memefuse tsne --embeddings FILE` on the same data, side by side, and
prints for each: the final KL divergence (each as its implementation reports it: sklearn's
`kl_divergence_`, memefuse's same-formula figure), the exact KL of the final embedding against the
same P (sklearn's P, Q over every pair, computed here for both), the 10-nearest-neighbour
preservation, and the seconds taken (wall clock, and CPU seconds summed over threads: on a shared
machine the CPU seconds / cores estimate the wall time on idle cores).

Data: `blobs` (sklearn.datasets.make_blobs: Gaussian clusters of different spreads) of --points
points in --dims dimensions, or `digits` (sklearn's 1,797 8×8 digit images, 64 dimensions).

    /root/.cache/memefuse-py/bin/python scripts/reference/tsne_compare.py --points 10000 --dims 64
    ... --fixture tests/fixtures/tsne/blobs_400.json   # writes the Rust test's fixture

Needs numpy, scikit-learn (1.9.1 pinned in the venv) and safetensors; the memefuse binary is
target/release/memefuse unless --memefuse says otherwise (build it with `cargo build --release`).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import sklearn
from safetensors.numpy import save_file
from sklearn.datasets import load_digits, make_blobs
from sklearn.manifold import TSNE
from sklearn.manifold._t_sne import _joint_probabilities_nn
from sklearn.neighbors import NearestNeighbors


def make_data(kind, points, dims, seed):
    if kind == "digits":
        digits = load_digits()
        return digits.data.astype(np.float32), digits.target
    rng = np.random.default_rng(seed)
    centers = 10
    spreads = rng.uniform(0.5, 2.5, size=centers)
    data, labels = make_blobs(n_samples=points, n_features=dims, centers=centers, cluster_std=spreads, center_box=(-10, 10), random_state=seed)
    return data.astype(np.float32), labels


def joint_probabilities(data, perplexity):
    """sklearn's own P (barnes_hut path): kNN over 3·perplexity + 1 neighbours, symmetrised."""
    n = data.shape[0]
    k = min(n - 1, int(3.0 * perplexity + 1))
    knn = NearestNeighbors(n_neighbors=k).fit(data)
    distances = knn.kneighbors_graph(mode="distance")
    distances.data **= 2
    return _joint_probabilities_nn(distances, perplexity, 0)


def exact_kl(p, y):
    """KL(P‖Q) with Q over every pair (in row blocks: 10,000² pairs do not fit at once)."""
    y = y.astype(np.float64)
    z = 0.0
    for start in range(0, y.shape[0], 1024):
        block = y[start:start + 1024]
        d2 = ((block[:, None, :] - y[None, :, :]) ** 2).sum(-1)
        z += (1.0 / (1.0 + d2)).sum() - block.shape[0]  # minus the diagonal (t_ii = 1)
    p = p.tocoo()
    d2 = ((y[p.row] - y[p.col]) ** 2).sum(-1)
    q = 1.0 / (1.0 + d2) / z
    return float(np.sum(p.data * np.log(p.data / q)))


def neighbour_preservation(data, y, k=10):
    """Mean fraction of each point's k nearest input neighbours among its k nearest embedded ones."""
    def neighbours(x):
        return NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(return_distance=False)[:, :k]
    a, b = neighbours(data), neighbours(y.astype(np.float64))
    return float(np.mean([len(set(r) & set(s)) / k for r, s in zip(a, b)]))


def run_memefuse(binary, data, labels, perplexity, seed, workdir):
    path = os.path.join(workdir, "data.safetensors")
    ids = [str(i) for i in range(data.shape[0])]
    save_file({"features": np.ascontiguousarray(data, dtype=np.float32), "labels": (labels % 2).astype(np.int32)}, path, metadata={"ids": json.dumps(ids)})
    png, csv = os.path.join(workdir, "tsne.png"), os.path.join(workdir, "tsne.csv")
    command = [binary, "tsne", "--embeddings", path, "--output", png, "--points", csv, "--perplexity", str(perplexity), "--seed", str(seed)]
    started, children_before = time.perf_counter(), os.times()
    finished = subprocess.run(command, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    children_after = os.times()
    summary_cpu = (children_after.children_user - children_before.children_user) + (children_after.children_system - children_before.children_system)
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    summary["cpu_seconds"] = summary_cpu
    y = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=(2, 3))
    return y, summary, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=["blobs", "digits"], default="blobs")
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--perplexity", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memefuse", default=os.path.join(os.path.dirname(__file__), "..", "..", "target", "release", "memefuse"))
    parser.add_argument("--fixture", help="also write data + sklearn's figures as a JSON fixture for tests/tsne.rs")
    args = parser.parse_args()

    data, labels = make_data(args.data, args.points, args.dims, args.seed)
    n, dims = data.shape
    threads = os.environ.get("OMP_NUM_THREADS", str(os.cpu_count()))
    print(f"data: {args.data}, {n} points × {dims} dims, perplexity {args.perplexity}; sklearn {sklearn.__version__}, numpy {np.__version__}; {os.cpu_count()} cores, OMP_NUM_THREADS={threads}")

    started, cpu_started = time.perf_counter(), time.process_time()
    model = TSNE(perplexity=args.perplexity, init="pca", learning_rate="auto", max_iter=1000, angle=0.5, random_state=args.seed)
    y_sklearn = model.fit_transform(data)
    sklearn_seconds, sklearn_cpu = time.perf_counter() - started, time.process_time() - cpu_started

    results = {"sklearn": (y_sklearn, model.kl_divergence_, sklearn_seconds, sklearn_cpu, model.n_iter_ + 1)}
    if args.fixture is None or os.path.exists(args.memefuse):
        with tempfile.TemporaryDirectory() as workdir:
            y_ours, summary, wall = run_memefuse(os.path.abspath(args.memefuse), data, labels, args.perplexity, args.seed, workdir)
        results["memefuse"] = (y_ours, summary["kl_divergence"], wall, summary["cpu_seconds"], summary["iterations"])
        print(f"memefuse: {summary['threads']} threads, t-SNE itself {summary['seconds']:.2f} s of the {wall:.2f} s wall time")

    p = joint_probabilities(data, args.perplexity)
    print(f"{'':10} {'KL (reported)':>14} {'KL (exact Q)':>13} {'10-NN kept':>11} {'seconds':>8} {'CPU s':>8} {'iterations':>10}")
    figures = {}
    for name, (y, kl, seconds, cpu, iterations) in results.items():
        figures[name] = {"kl": kl, "exact_kl": exact_kl(p, y), "knn": neighbour_preservation(data, y), "seconds": seconds, "cpu": cpu}
        f = figures[name]
        print(f"{name:10} {kl:14.4f} {f['exact_kl']:13.4f} {f['knn']:11.4f} {seconds:8.2f} {cpu:8.2f} {iterations:10d}")
    if "memefuse" in figures:
        ours, theirs = figures["memefuse"], figures["sklearn"]
        print(f"memefuse/sklearn: KL {ours['kl'] / theirs['kl']:.3f}, exact KL {ours['exact_kl'] / theirs['exact_kl']:.3f}, "
              f"10-NN kept {ours['knn'] - theirs['knn']:+.4f}, time {ours['seconds'] / theirs['seconds']:.2f}×, CPU time {ours['cpu'] / theirs['cpu']:.2f}×")

    if args.fixture:
        fixture = {
            "source": f"scripts/reference/tsne_compare.py --data {args.data} --points {args.points} --dims {args.dims} --perplexity {args.perplexity} --seed {args.seed} (sklearn {sklearn.__version__})",
            "points": n, "dims": dims, "perplexity": args.perplexity,
            "data": [float(v) for v in data.ravel()],
            "labels": [int(v) for v in labels],
            "sklearn_kl_divergence": float(model.kl_divergence_),
            "sklearn_knn_preservation_10": figures["sklearn"]["knn"],
        }
        with open(args.fixture, "w") as out:
            json.dump(fixture, out)
        print(f"wrote {args.fixture}")


if __name__ == "__main__":
    sys.exit(main())
