package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync"
)

const chunkSize = 1 << 20

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// copyHash copies src to dst and returns the bytes copied and their sha256 (hex). The hash
// runs in a second goroutine on the chunks already written, so copying and hashing overlap
// and packing is bound by the slower of the two, not their sum. It stops early when ctx
// is cancelled.
func copyHash(ctx context.Context, dst io.Writer, src io.Reader) (int64, string, error) {
	type chunk struct {
		buf *[]byte
		n   int
	}
	chunks := make(chan chunk, 4)
	sum := make(chan string, 1)
	go func() {
		h := sha256.New()
		for c := range chunks {
			h.Write((*c.buf)[:c.n])
			chunkPool.Put(c.buf)
		}
		sum <- hex.EncodeToString(h.Sum(nil))
	}()
	var n int64
	var err error
	for {
		if err = ctx.Err(); err != nil {
			break
		}
		b := chunkPool.Get().(*[]byte)
		m, rerr := io.ReadFull(src, *b)
		if m > 0 {
			if _, werr := dst.Write((*b)[:m]); werr != nil {
				chunkPool.Put(b)
				err = werr
				break
			}
			n += int64(m)
			chunks <- chunk{b, m}
		} else {
			chunkPool.Put(b)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	close(chunks)
	digest := <-sum
	return n, digest, err
}
