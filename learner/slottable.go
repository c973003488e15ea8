package learner

// slotTable maps the slots a snapshot keeps to their rows: open addressing with linear probing, which
// is smaller and faster to probe than a Go map for uint32 keys.
type slotTable struct {
	keys  []uint32 // slot+1; 0 marks an empty cell
	rows  []int32
	shift uint
}

func newSlotTable(n int) slotTable {
	size, shift := 8, uint(32-3)
	for size < 2*n {
		size *= 2
		shift--
	}
	return slotTable{keys: make([]uint32, size), rows: make([]int32, size), shift: shift}
}

func (t *slotTable) cell(slot uint32) int { return int((slot * 0x9e3779b1) >> t.shift) }

// put records row for slot, and reports false if slot was already there.
func (t *slotTable) put(slot uint32, row int32) bool {
	mask := len(t.keys) - 1
	for i := t.cell(slot); ; i = (i + 1) & mask {
		switch t.keys[i] {
		case 0:
			t.keys[i], t.rows[i] = slot+1, row
			return true
		case slot + 1:
			return false
		}
	}
}

// get returns the row of slot, or -1.
func (t *slotTable) get(slot uint32) int32 {
	mask := len(t.keys) - 1
	for i := t.cell(slot); ; i = (i + 1) & mask {
		switch t.keys[i] {
		case 0:
			return -1
		case slot + 1:
			return t.rows[i]
		}
	}
}
