package server

import "sync"

// proxyBufSize is the size of the buffers the proxy copies bodies
// through: httputil.ReverseProxy's own size, taken from a pool instead of
// made fresh for every request (garbage the relay's GC then spent time on).
const proxyBufSize = 32 << 10

// bufferPool is an httputil.BufferPool over a sync.Pool.
type bufferPool struct{ pool sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any {
		b := make([]byte, proxyBufSize)
		return &b
	}}}
}

func (p *bufferPool) Get() []byte { return *p.pool.Get().(*[]byte) }

func (p *bufferPool) Put(b []byte) {
	if cap(b) == proxyBufSize {
		b = b[:proxyBufSize]
		p.pool.Put(&b)
	}
}
