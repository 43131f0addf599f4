package batcher

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// double is a batch function that records batch sizes and doubles its inputs.
type double struct {
	mu    sync.Mutex
	sizes []int
	gate  chan struct{} // when non-nil, each batch waits for one receive from it
}

func (d *double) run(in []int) ([]int, error) {
	if d.gate != nil {
		<-d.gate
	}
	d.mu.Lock()
	d.sizes = append(d.sizes, len(in))
	d.mu.Unlock()
	out := make([]int, len(in))
	for i, v := range in {
		if v < 0 {
			return nil, fmt.Errorf("negative input %d", v)
		}
		if v == 666 {
			panic("the number of the beast")
		}
		out[i] = 2 * v
	}
	return out, nil
}

func newBatcher(t *testing.T, run Func[int, int], opt Options) *Batcher[int, int] {
	t.Helper()
	b, err := New(run, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConcurrentRequestsGetTheirOwnOutputsInBatchesOfAtMostMaxBatch(t *testing.T) {
	d := &double{}
	b := newBatcher(t, d.run, Options{MaxBatch: 8, MaxWait: 20 * time.Millisecond})
	const clients, each = 32, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				in := c*1000 + i
				out, err := b.Do(context.Background(), in)
				if err != nil || out != 2*in {
					errs <- fmt.Errorf("client %d request %d: got %d, %v; want %d", c, i, out, err, 2*in)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	for _, s := range d.sizes {
		if s < 1 || s > 8 {
			t.Fatalf("batch of %d with MaxBatch 8", s)
		}
		total += s
	}
	st := b.Stats()
	if total != clients*each || st.Items != int64(total) || st.Requests != int64(total) || st.Batches != int64(len(d.sizes)) {
		t.Fatalf("items: batches hold %d, stats %+v, want %d", total, st, clients*each)
	}
	if st.MeanBatch() < 2 {
		t.Errorf("32 concurrent clients produced a mean batch of %.2f; batching does not group requests", st.MeanBatch())
	}
}

func TestDoAllKeepsOrderAndFillsBatches(t *testing.T) {
	d := &double{}
	b := newBatcher(t, d.run, Options{MaxBatch: 4, MaxWait: time.Second})
	ins := []int{5, 1, 4, 2, 3, 9, 7, 8, 6, 0}
	outs, err := b.DoAll(context.Background(), ins)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ins {
		if outs[i] != 2*ins[i] {
			t.Fatalf("output %d = %d, want %d", i, outs[i], 2*ins[i])
		}
	}
	// Queued together, the first two batches are full; the last one waits MaxWait for company.
	if fmt.Sprint(d.sizes) != "[4 4 2]" {
		t.Errorf("batch sizes %v, want [4 4 2]", d.sizes)
	}
}

func TestLoneRequestWaitsAtMostMaxWait(t *testing.T) {
	d := &double{}
	b := newBatcher(t, d.run, Options{MaxBatch: 64, MaxWait: 30 * time.Millisecond})
	start := time.Now()
	out, err := b.Do(context.Background(), 21)
	took := time.Since(start)
	if err != nil || out != 42 {
		t.Fatalf("got %d, %v", out, err)
	}
	if took < 25*time.Millisecond || took > 2*time.Second {
		t.Errorf("a lone request took %v with MaxWait 30ms", took)
	}
	// A negative MaxWait never waits.
	b2 := newBatcher(t, d.run, Options{MaxBatch: 64, MaxWait: -1})
	start = time.Now()
	if _, err := b2.Do(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("MaxWait<0: a lone request took %v", took)
	}
}

func TestErrorsFailOnlyTheirBatch(t *testing.T) {
	d := &double{}
	b := newBatcher(t, d.run, Options{MaxBatch: 2, MaxWait: time.Second})
	for _, tc := range []struct {
		ins  []int
		want string
	}{
		{[]int{1, -1}, "negative input -1"},
		{[]int{666, 3}, "panic: the number of the beast"},
	} {
		_, err := b.DoAll(context.Background(), tc.ins)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("batch %v: error %v, want %q", tc.ins, err, tc.want)
		}
		// Each request of the failed batch gets the error, not just the first.
		r1, _ := b.submit(context.Background(), tc.ins[0])
		r2, _ := b.submit(context.Background(), tc.ins[1])
		if _, err := wait(context.Background(), r2); err == nil {
			t.Errorf("second request of failing batch %v succeeded", tc.ins)
		}
		wait(context.Background(), r1)
		// The next batch is unaffected.
		outs, err := b.DoAll(context.Background(), []int{2, 3})
		if err != nil || outs[0] != 4 || outs[1] != 6 {
			t.Fatalf("batch after a failure: %v, %v", outs, err)
		}
	}
	if st := b.Stats(); st.FailedBatches != 4 {
		t.Errorf("FailedBatches = %d, want 4", st.FailedBatches)
	}
}

func TestWrongOutputCountIsAnError(t *testing.T) {
	b := newBatcher(t, func(in []int) ([]int, error) { return in[1:], nil }, Options{MaxWait: -1})
	if _, err := b.Do(context.Background(), 1); err == nil || !strings.Contains(err.Error(), "0 outputs for 1 inputs") {
		t.Fatalf("error %v", err)
	}
}

func TestCancelledRequestReturnsAtOnceAndIsDropped(t *testing.T) {
	d := &double{gate: make(chan struct{})}
	b := newBatcher(t, d.run, Options{MaxBatch: 1, MaxWait: -1})
	first := make(chan error, 1)
	go func() { _, err := b.Do(context.Background(), 1); first <- err }()
	waitFor(t, func() bool { return b.Stats().Requests == 1 }) // the first batch is now blocked in run
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() { _, err := b.Do(ctx, 2); second <- err }()
	waitFor(t, func() bool { return b.Stats().Requests == 2 })
	cancel()
	select {
	case err := <-second:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled request: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled request did not return")
	}
	d.gate <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	close(d.gate) // later batches run freely
	if out, err := b.Do(context.Background(), 3); err != nil || out != 6 {
		t.Fatalf("after a cancellation: %d, %v", out, err)
	}
	if st := b.Stats(); st.Cancelled != 1 || st.Items != 2 {
		t.Errorf("stats %+v: want the cancelled request dropped (Cancelled 1, Items 2)", st)
	}
	// An already-cancelled context is refused before queueing.
	if _, err := b.Do(ctx, 4); !errors.Is(err, context.Canceled) {
		t.Errorf("Do with a cancelled context: %v", err)
	}
}

func TestCloseFinishesQueuedRequestsAndRefusesNewOnes(t *testing.T) {
	d := &double{gate: make(chan struct{})}
	b, err := New(d.run, Options{MaxBatch: 2, MaxWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 7
	results := make(chan error, n)
	for i := range n {
		go func() {
			out, err := b.Do(context.Background(), i)
			if err == nil && out != 2*i {
				err = fmt.Errorf("request %d got %d", i, out)
			}
			results <- err
		}()
	}
	waitFor(t, func() bool { return b.Stats().Requests == n })
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	close(d.gate)
	for range n {
		if err := <-results; err != nil {
			t.Fatalf("queued request failed across Close: %v", err)
		}
	}
	<-closed
	if _, err := b.Do(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close: %v, want ErrClosed", err)
	}
	b.Close() // idempotent
}

func TestOptionsAreValidated(t *testing.T) {
	if _, err := New((&double{}).run, Options{MaxBatch: -3}); err == nil {
		t.Error("negative MaxBatch accepted")
	}
	if _, err := New[int, int](nil, Options{}); err == nil {
		t.Error("nil function accepted")
	}
	b := newBatcher(t, (&double{}).run, Options{})
	if o := b.Options(); o.MaxBatch != DefaultMaxBatch || o.MaxWait != DefaultMaxWait || o.QueueSize != 4*DefaultMaxBatch {
		t.Errorf("defaults %+v", o)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not reached within 5s")
}
