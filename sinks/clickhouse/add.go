package clickhouse

// AddPredictions buffers predictions; the next Flush writes them. Like every Add method it blocks
// while MaxBufferedRows rows are buffered, until a Flush in another goroutine (Run's, say) makes
// room: a goroutine that both adds and flushes, without Run, must flush at least every
// MaxBufferedRows rows.
func (w *Writer) AddPredictions(rows ...PredictionRow) { add(w, w.predictions, rows) }

// AddOutcomes buffers outcomes.
func (w *Writer) AddOutcomes(rows ...OutcomeRow) { add(w, w.outcomes, rows) }

// AddFeatureDrift buffers feature drift statistics; a zero Updated becomes the current time.
func (w *Writer) AddFeatureDrift(rows ...FeatureDriftRow) { add(w, w.featureDrift, rows) }

// AddPerformance buffers performance windows; a zero Updated becomes the current time.
func (w *Writer) AddPerformance(rows ...PerformanceRow) { add(w, w.performance, rows) }

// AddDriftAlerts buffers drift alerts.
func (w *Writer) AddDriftAlerts(rows ...DriftAlertRow) { add(w, w.driftAlerts, rows) }

// AddRetrainEvents buffers retrain events.
func (w *Writer) AddRetrainEvents(rows ...RetrainEventRow) { add(w, w.retrainEvents, rows) }

// AddModelVersions buffers model versions; a zero Updated becomes Time.
func (w *Writer) AddModelVersions(rows ...ModelVersionRow) { add(w, w.modelVersions, rows) }

// Buffered returns the number of rows not written yet, across tables.
func (w *Writer) Buffered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buffered
}

func add[R any](w *Writer, t *table[R], rows []R) {
	if len(rows) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(rows) > 0 {
		for w.buffered >= w.cfg.MaxBufferedRows && !w.closed {
			w.room.Wait()
		}
		if w.closed {
			w.logger.Error("clickhouse writer closed: rows dropped", "table", t.name, "rows", len(rows))
			return
		}
		// Take what fits, so that a call with more than MaxBufferedRows rows still makes progress.
		n := min(len(rows), w.cfg.MaxBufferedRows-w.buffered)
		t.append(rows[:n])
		w.buffered += n
		rows = rows[n:]
		if w.buffered >= w.cfg.BatchRows {
			select {
			case w.kick <- struct{}{}:
			default:
			}
		}
	}
}
