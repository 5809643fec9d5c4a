// Command archivebench measures tsarchive packing and reading speed for every archive format
// on a generated ONNX model (500 MB of float32 weights by default), beside Go's standard
// archive/zip with Deflate as the baseline, measured in the same run. Formats are interleaved
// and repeated; the table shows the median and the range. Run: make bench-archive.
package main

import (
	"archive/zip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"time"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/onnxgen"
)

func main() {
	sizeMB := flag.Int("size", 500, "weights in MB")
	rounds := flag.Int("rounds", 3, "rounds (each runs every format once, in a rotated order)")
	outDir := flag.String("out", "", "where archives are written (default: /dev/shm when it has room, else the temporary folder)")
	flag.Parse()
	if err := run(*sizeMB, *rounds, *outDir); err != nil {
		fmt.Fprintln(os.Stderr, "archivebench:", err)
		os.Exit(1)
	}
}

type config struct {
	name string
	pack func(ctx context.Context, model, dir string) (string, error)
	read func(ctx context.Context, path string) error
}

func run(sizeMB, rounds int, outDir string) error {
	work, err := os.MkdirTemp("", "archivebench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	model := filepath.Join(work, "model.onnx")
	fmt.Fprintf(os.Stderr, "generating a %d MB model...\n", sizeMB)
	if err := onnxgen.Write(model, onnxgen.Spec{Dim: 1000, Out: sizeMB << 20 / 4 / 1000, Seed: 1}); err != nil {
		return err
	}
	st, _ := os.Stat(model)
	size := st.Size()
	if outDir == "" {
		outDir = os.TempDir()
		if free := freeBytes("/dev/shm"); free > 3*size {
			outDir = "/dev/shm"
		}
	}

	var configs []config
	for _, f := range archive.Formats {
		configs = append(configs, config{
			name: "tsarchive " + string(f),
			pack: func(ctx context.Context, model, dir string) (string, error) {
				res, err := archive.Pack(ctx, archive.PackOptions{ModelName: "m", SerializedFile: model, Handler: "tensor", ExportPath: dir, Format: f, Force: true})
				if err != nil {
					return "", err
				}
				return res.Path, nil
			},
			read: func(ctx context.Context, path string) error {
				_, err := archive.Verify(ctx, path, archive.DefaultLimits())
				return err
			},
		})
	}
	configs = append(configs, config{name: "stdlib archive/zip deflate (baseline)", pack: stdlibPack, read: stdlibRead})

	packs := map[string][]float64{}
	reads := map[string][]float64{}
	ctx := context.Background()
	for r := 0; r < rounds; r++ {
		order := slices.Clone(configs)
		for i := 0; i < r; i++ { // rotate so no format always runs first
			order = append(order[1:], order[0])
		}
		for _, c := range order {
			dir, err := os.MkdirTemp(outDir, "out-*")
			if err != nil {
				return err
			}
			warm(model)
			start := time.Now()
			path, err := c.pack(ctx, model, dir)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			packs[c.name] = append(packs[c.name], mbps(size, time.Since(start)))
			warm(path)
			start = time.Now()
			if err := c.read(ctx, path); err != nil {
				return fmt.Errorf("%s read: %w", c.name, err)
			}
			reads[c.name] = append(reads[c.name], mbps(size, time.Since(start)))
			os.RemoveAll(dir)
			fmt.Fprintf(os.Stderr, "round %d: %-40s pack %7.0f MB/s  read %7.0f MB/s\n", r+1, c.name, last(packs[c.name]), last(reads[c.name]))
		}
	}

	base := configs[len(configs)-1].name
	fmt.Printf("Model: %d MB of float32 weights (normal, σ=1/√1000); source in the page cache; archives written to %s\n", size>>20, outDir)
	fmt.Printf("Machine: %d cores, %s/%s, %s; %d rounds, formats interleaved; median (min–max) MB/s\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), rounds)
	fmt.Println("| format | pack MB/s | × baseline | read + verify MB/s | × baseline |")
	fmt.Println("|---|---|---|---|---|")
	for _, c := range configs {
		p, rd := median(packs[c.name]), median(reads[c.name])
		fmt.Printf("| %s | %s | %.1f× | %s | %.1f× |\n", c.name, spread(packs[c.name]), p/median(packs[base]), spread(reads[c.name]), rd/median(reads[base]))
	}
	def := "tsarchive " + string(archive.Default)
	fmt.Println()
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "MISS"
	}
	fmt.Printf("- %s: default .mar packing ≥ 1000 MB/s (median %.0f)\n", verdict(median(packs[def]) >= 1000), median(packs[def]))
	fmt.Printf("- %s: default .mar read + verify ≥ 500 MB/s, the same order (median %.0f)\n", verdict(median(reads[def]) >= 500), median(reads[def]))
	return nil
}

func last(v []float64) float64 { return v[len(v)-1] }

func mbps(size int64, d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	return s[len(s)/2]
}

func spread(v []float64) string {
	return fmt.Sprintf("%.0f (%.0f–%.0f)", median(v), slices.Min(v), slices.Max(v))
}

// warm reads a file so that it is in the page cache.
func warm(path string) {
	st, err := os.Stat(path)
	if err != nil || st.IsDir() {
		filepath.Walk(path, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				warm(p)
			}
			return nil
		})
		return
	}
	if f, err := os.Open(path); err == nil {
		io.Copy(io.Discard, f)
		f.Close()
	}
}

// stdlibPack is what a Go program with only the standard library writes: one Deflate entry.
func stdlibPack(_ context.Context, model, dir string) (string, error) {
	out := filepath.Join(dir, "m.zip")
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "model.onnx", Method: zip.Deflate})
	if err != nil {
		return "", err
	}
	src, err := os.Open(model)
	if err != nil {
		return "", err
	}
	defer src.Close()
	if _, err := io.Copy(w, src); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return out, f.Sync()
}

func stdlibRead(_ context.Context, path string) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return err
	}
	defer zr.Close()
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc) // the CRC is checked at EOF
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
