// Command archivebench measures tsarchive packing and reading speed for every archive format
// on a generated ONNX model (500 MB of float32 weights by default), beside Go's standard
// archive/zip with Deflate as the baseline, measured in the same run. Formats are interleaved
// and repeated; the table shows the median and the range. Run: make bench-archive.
package main

import (
	"archive/zip"
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tsserve/ts/pkg/archive"
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
	if err := writeModel(model, sizeMB<<20/4); err != nil {
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
	fmt.Printf("Model: %d MB of float32 weights (normal, σ=0.05); source in the page cache; archives written to %s\n", size>>20, outDir)
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

// writeModel writes an ONNX model y = x·Wᵀ whose W holds n float32 weights drawn from
// N(0, 0.05), streaming the weights so the model is never held in memory whole.
func writeModel(path string, n int) error {
	cols := 1000
	rows := n / cols
	n = rows * cols
	valueInfo := func(name string, dim int) []byte {
		var shape []byte
		shape = protowire.AppendTag(shape, 1, protowire.BytesType)
		shape = protowire.AppendBytes(shape, protowire.AppendString(protowire.AppendTag(nil, 2, protowire.BytesType), "batch"))
		d := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), uint64(dim))
		shape = protowire.AppendBytes(protowire.AppendTag(shape, 1, protowire.BytesType), d)
		tt := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1)
		tt = protowire.AppendBytes(protowire.AppendTag(tt, 2, protowire.BytesType), shape)
		typ := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), tt)
		vi := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), name)
		return protowire.AppendBytes(protowire.AppendTag(vi, 2, protowire.BytesType), typ)
	}
	var node []byte
	for _, in := range []string{"x", "W"} {
		node = protowire.AppendString(protowire.AppendTag(node, 1, protowire.BytesType), in)
	}
	node = protowire.AppendString(protowire.AppendTag(node, 2, protowire.BytesType), "y")
	node = protowire.AppendString(protowire.AppendTag(node, 4, protowire.BytesType), "Gemm")
	attr := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "transB")
	attr = protowire.AppendVarint(protowire.AppendTag(attr, 3, protowire.VarintType), 1)
	attr = protowire.AppendVarint(protowire.AppendTag(attr, 20, protowire.VarintType), 2) // AttributeProto.INT
	node = protowire.AppendBytes(protowire.AppendTag(node, 5, protowire.BytesType), attr)

	// initializer W: dims, data_type FLOAT, name, then raw_data (streamed)
	var initHead []byte
	for _, d := range []int{rows, cols} {
		initHead = protowire.AppendVarint(protowire.AppendTag(initHead, 1, protowire.VarintType), uint64(d))
	}
	initHead = protowire.AppendVarint(protowire.AppendTag(initHead, 2, protowire.VarintType), 1)
	initHead = protowire.AppendString(protowire.AppendTag(initHead, 8, protowire.BytesType), "W")
	initHead = protowire.AppendTag(initHead, 9, protowire.BytesType)
	initHead = protowire.AppendVarint(initHead, uint64(4*n))
	initLen := len(initHead) + 4*n

	var graphTail []byte
	graphTail = protowire.AppendString(protowire.AppendTag(graphTail, 2, protowire.BytesType), "bench")
	graphTail = protowire.AppendBytes(protowire.AppendTag(graphTail, 11, protowire.BytesType), valueInfo("x", cols))
	graphTail = protowire.AppendBytes(protowire.AppendTag(graphTail, 12, protowire.BytesType), valueInfo("y", rows))
	graphHead := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), node)
	graphHead = protowire.AppendTag(graphHead, 5, protowire.BytesType)
	graphHead = protowire.AppendVarint(graphHead, uint64(initLen))
	graphLen := len(graphHead) + initLen + len(graphTail)

	var head []byte
	head = protowire.AppendVarint(protowire.AppendTag(head, 1, protowire.VarintType), 8)
	opset := protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 13)
	head = protowire.AppendBytes(protowire.AppendTag(head, 8, protowire.BytesType), opset)
	head = protowire.AppendString(protowire.AppendTag(head, 2, protowire.BytesType), "archivebench")
	head = protowire.AppendTag(head, 7, protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(graphLen))

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(head)
	w.Write(graphHead)
	w.Write(initHead)
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 4)
	for i := 0; i < n; i++ {
		v := float32(rng.NormFloat64() * 0.05)
		bits := math.Float32bits(v)
		buf[0], buf[1], buf[2], buf[3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
		w.Write(buf)
	}
	w.Write(graphTail)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
