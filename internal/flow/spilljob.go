package flow

// spillJob is the part of an eviction done on its own goroutine while the
// aggregation goes on: the spilled run's sort and write, and the spill
// index's next level for the next eviction. The aggregation finds the spilled
// relations through the index, which it fills before the job starts (their
// IDs are never in doubt); the job only reads the index, and the aggregation
// does not write it again before it has waited for the job (settle), nor
// touch the spill file or the run.
type spillJob struct {
	done  chan struct{}
	run   []relSlot // the spilled slots (the aggregator's buffer, given back)
	ord   []relOrd
	err   error      // the write's
	grown *idxGrowth // the index's next level, for another run like this one, or nil
}

// startSpill starts writing run (unsorted) to the spill file.
func (a *Aggregator) startSpill(run []relSlot) {
	j := &spillJob{done: make(chan struct{}), run: run, ord: a.ord}
	a.ord = nil
	sp, x := a.spill, &a.spilled
	grow := x.full(len(run))
	go func() {
		defer close(j.done)
		j.ord = orderSlots(j.run, j.ord)
		j.err = sp.writeOrdered(j.run, j.ord)
		if grow {
			g := x.next(len(run))
			j.grown = &g
		}
	}()
	a.job = j
}

// settle waits for the eviction's job. When its write failed, the run's
// relations come back into the table (summed with those that came back
// since, as Save would have), and nothing is spilled any more.
func (a *Aggregator) settle() {
	j := a.job
	if j == nil {
		return
	}
	<-j.done
	a.job = nil
	a.ord = j.ord
	if j.grown != nil {
		a.spilled.add(*j.grown)
	}
	if j.err != nil {
		a.spillErr, a.active = j.err, 0
		a.nspilled -= int64(len(j.run))
		for i := range j.run {
			r := &j.run[i]
			s, found := a.rel4.find(r.key, true)
			if !found {
				*s = *r
				continue
			}
			sumSlot(s, r)
		}
	}
	a.scratch = j.run[:0]
}

// spillError waits for the eviction's job and returns the spill file's
// error, if any.
func (a *Aggregator) spillError() error {
	a.settle()
	return a.spillErr
}
