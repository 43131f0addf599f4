// Package batcher groups single requests arriving from many goroutines into batches: a server
// that receives one image or one text per request keeps the model busy with batches of up to
// MaxBatch items, and no request waits more than MaxWait for companions.
//
// Batcher is the generic core (any input and output types, any batch function); Encoder applies
// it to the two towers of a model (one preprocessed image or one token sequence per request).
//
//	b, _ := batcher.NewEncoder(m.Encoder(), batcher.Options{MaxBatch: 16, MaxWait: 5 * time.Millisecond})
//	defer b.Close()
//	emb, err := b.EncodeTokens(ctx, ids) // from many goroutines at once
//
// Each request gets exactly the row its batch produced: since the encoder pads every batch to a
// fixed bucket size, the result does not depend on which other requests shared the batch
// (bit-identical on simplego for ViT and text towers; within float rounding on kernels that order
// sums by batch size, such as XLA's and simplego's ResNet convolutions: the tests allow 1e-6, and
// notebooks/12-batching.ipynb reports the difference it measures).
//
// Semantics:
//   - A batch is started when MaxBatch requests are queued, or MaxWait after its oldest request
//     was queued, whichever comes first. While a batch runs, new requests queue up, so under load
//     batches fill without waiting.
//   - A failed batch (an error or a panic of the batch function) fails exactly the requests of
//     that batch; the next batch starts afresh.
//   - A request whose context is cancelled returns ctx.Err() at once; if it had not yet been
//     put into a batch, it is dropped from the batch.
//   - Close stops accepting requests (they get ErrClosed), finishes the ones already queued, and
//     returns when the worker has stopped.
package batcher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Options configure a Batcher.
type Options struct {
	// MaxBatch is the largest number of requests put into one batch (default 32).
	MaxBatch int
	// MaxWait is the longest time the oldest request of a batch waits for more requests before
	// the batch is started (default 2 ms). Zero means the default; use a negative value to never
	// wait (batches then hold only the requests already queued).
	MaxWait time.Duration
	// QueueSize is the number of requests that can be queued while a batch runs before Do blocks
	// (default 4·MaxBatch).
	QueueSize int
}

// Default option values.
const (
	DefaultMaxBatch = 32
	DefaultMaxWait  = 2 * time.Millisecond
)

func (o *Options) defaults() error {
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxBatch < 0 {
		return fmt.Errorf("batcher: MaxBatch must be positive, got %d", o.MaxBatch)
	}
	if o.MaxWait == 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.MaxWait < 0 {
		o.MaxWait = 0
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4 * o.MaxBatch
	}
	return nil
}

// ErrClosed is returned for requests made after Close.
var ErrClosed = errors.New("batcher: closed")

// Func computes the outputs of a batch: one output per input, in order.
type Func[In, Out any] func(inputs []In) ([]Out, error)

// Stats are a Batcher's counters.
type Stats struct {
	// Requests is the number of requests accepted (queued).
	Requests int64
	// Batches is the number of batch function calls; Items the requests they held.
	Batches, Items int64
	// Cancelled is the number of requests dropped because their context ended before they were
	// put into a batch.
	Cancelled int64
	// FailedBatches is the number of batches whose function returned an error or panicked.
	FailedBatches int64
	// Sizes[k] is the number of batches that held k requests (len MaxBatch+1).
	Sizes []int64
	// Busy is the total time spent in the batch function.
	Busy time.Duration
}

// MeanBatch returns Items / Batches (0 before the first batch).
func (s Stats) MeanBatch() float64 {
	if s.Batches == 0 {
		return 0
	}
	return float64(s.Items) / float64(s.Batches)
}

// Batcher groups requests into batches for one batch function. It is safe for concurrent use.
type Batcher[In, Out any] struct {
	run  Func[In, Out]
	opt  Options
	reqs chan *request[In, Out]
	quit chan struct{}
	done chan struct{}

	mu     sync.RWMutex // held for reading while queueing; Close takes it for writing
	closed bool

	stMu sync.Mutex
	st   Stats
}

type request[In, Out any] struct {
	ctx    context.Context
	in     In
	queued time.Time
	res    chan result[Out] // buffered (1): the worker never blocks on delivery
}

type result[Out any] struct {
	out Out
	err error
}

// New starts a Batcher that calls run on batches of requests.
func New[In, Out any](run Func[In, Out], opt Options) (*Batcher[In, Out], error) {
	if run == nil {
		return nil, errors.New("batcher: nil batch function")
	}
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	b := &Batcher[In, Out]{run: run, opt: opt, reqs: make(chan *request[In, Out], opt.QueueSize),
		quit: make(chan struct{}), done: make(chan struct{})}
	b.st.Sizes = make([]int64, opt.MaxBatch+1)
	go b.worker()
	return b, nil
}

// Options returns the options in effect (defaults filled in).
func (b *Batcher[In, Out]) Options() Options { return b.opt }

// Do queues one request and waits for its output, for ctx to end, or for the batch to fail.
func (b *Batcher[In, Out]) Do(ctx context.Context, in In) (Out, error) {
	r, err := b.submit(ctx, in)
	if err != nil {
		var zero Out
		return zero, err
	}
	return wait(ctx, r)
}

// DoAll queues every input as its own request (so they are batched together with concurrent
// requests of other callers) and waits for all outputs, in order. It returns the first error.
func (b *Batcher[In, Out]) DoAll(ctx context.Context, ins []In) ([]Out, error) {
	rs := make([]*request[In, Out], len(ins))
	for i, in := range ins {
		r, err := b.submit(ctx, in)
		if err != nil {
			return nil, err
		}
		rs[i] = r
	}
	outs := make([]Out, len(ins))
	for i, r := range rs {
		o, err := wait(ctx, r)
		if err != nil {
			return nil, err
		}
		outs[i] = o
	}
	return outs, nil
}

func (b *Batcher[In, Out]) submit(ctx context.Context, in In) (*request[In, Out], error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &request[In, Out]{ctx: ctx, in: in, res: make(chan result[Out], 1)}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, ErrClosed
	}
	r.queued = time.Now()
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	b.stMu.Lock()
	b.st.Requests++
	b.stMu.Unlock()
	return r, nil
}

func wait[In, Out any](ctx context.Context, r *request[In, Out]) (Out, error) {
	select {
	case res := <-r.res:
		return res.out, res.err
	case <-ctx.Done():
		var zero Out
		return zero, ctx.Err()
	}
}

// Close stops accepting requests, finishes those already queued and waits for the worker to stop.
// It is safe to call more than once.
func (b *Batcher[In, Out]) Close() error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.quit)
	}
	b.mu.Unlock()
	<-b.done
	return nil
}

// Stats returns a snapshot of the counters.
func (b *Batcher[In, Out]) Stats() Stats {
	b.stMu.Lock()
	defer b.stMu.Unlock()
	s := b.st
	s.Sizes = append([]int64(nil), b.st.Sizes...)
	return s
}

// worker forms and runs batches until Close, then drains the queue.
func (b *Batcher[In, Out]) worker() {
	defer close(b.done)
	batch := make([]*request[In, Out], 0, b.opt.MaxBatch)
	for {
		batch = batch[:0]
		var first *request[In, Out]
		select {
		case first = <-b.reqs:
		case <-b.quit:
			// No new request can be queued any more (Close holds the lock while setting closed,
			// and submitters hold it while sending): drain what is left, then stop.
			for {
				select {
				case r := <-b.reqs:
					batch = append(batch, r)
					if len(batch) == b.opt.MaxBatch {
						b.runBatch(batch)
						batch = batch[:0]
					}
				default:
					if len(batch) > 0 {
						b.runBatch(batch)
					}
					return
				}
			}
		}
		batch = append(batch, first)
		b.fill(&batch, first.queued.Add(b.opt.MaxWait))
		b.runBatch(batch)
	}
}

// fill adds queued requests to batch until it is full or deadline passes (requests already queued
// are taken without waiting).
func (b *Batcher[In, Out]) fill(batch *[]*request[In, Out], deadline time.Time) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for len(*batch) < b.opt.MaxBatch {
		select {
		case r := <-b.reqs:
			*batch = append(*batch, r)
			continue
		default:
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		}
		select {
		case r := <-b.reqs:
			*batch = append(*batch, r)
		case <-timer.C:
			return
		case <-b.quit:
			return
		}
	}
}

// runBatch drops cancelled requests, calls the batch function and delivers outputs or the error.
func (b *Batcher[In, Out]) runBatch(batch []*request[In, Out]) {
	live := batch[:0:0]
	cancelled := 0
	for _, r := range batch {
		if r.ctx.Err() != nil {
			cancelled++
			continue
		}
		live = append(live, r)
	}
	b.stMu.Lock()
	b.st.Cancelled += int64(cancelled)
	b.stMu.Unlock()
	if len(live) == 0 {
		return
	}
	ins := make([]In, len(live))
	for i, r := range live {
		ins[i] = r.in
	}
	start := time.Now()
	outs, err := b.call(ins)
	busy := time.Since(start)
	if err == nil && len(outs) != len(ins) {
		err = fmt.Errorf("batcher: batch function returned %d outputs for %d inputs", len(outs), len(ins))
	}
	b.stMu.Lock()
	b.st.Batches++
	b.st.Items += int64(len(live))
	b.st.Sizes[len(live)]++
	b.st.Busy += busy
	if err != nil {
		b.st.FailedBatches++
	}
	b.stMu.Unlock()
	for i, r := range live {
		if err != nil {
			r.res <- result[Out]{err: err}
		} else {
			r.res <- result[Out]{out: outs[i]}
		}
	}
}

// call runs the batch function, turning a panic into an error.
func (b *Batcher[In, Out]) call(ins []In) (outs []Out, err error) {
	defer func() {
		if p := recover(); p != nil {
			outs, err = nil, fmt.Errorf("batcher: batch of %d failed: panic: %v", len(ins), p)
		}
	}()
	return b.run(ins)
}
