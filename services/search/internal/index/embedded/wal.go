package embedded

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"unsafe"

	"buzhou.dev/search/internal/index"
)

// The log is a sequence of records, each [length uint32][crc32c uint32][body].
// A body is one operation: the schema (first record of every file) or one
// article's change. A torn or corrupt record ends the log: the index then
// starts empty and is rebuilt from the feed, because what followed the
// damage cannot be trusted to match the saved cursor; a record cut short at
// the very end is only a write whose cursor was never saved, and is dropped.
const (
	opSchema byte = 1
	opChange byte = 2
	// opDamaged is never written: replay reports a damaged log with it.
	opDamaged byte = 255
	// logVersion changes when the record layout does; an older file is
	// dropped and rebuilt.
	logVersion = 3
	// maxRecord bounds one record (an article's chunks), far above what the
	// article service accepts, so a corrupt length cannot make us allocate
	// gigabytes.
	maxRecord = 256 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type walOp struct {
	kind   byte
	schema index.Schema
	id     string
	change index.Change
	// texts are where each chunk's texts lie in the file, at where the
	// record starts.
	texts []chunkText
	at    int64
}

// textRef is where a string's bytes lie in the log file.
type textRef struct {
	off int64
	n   uint32
}

// chunkText is where a chunk's two texts (zh, en) lie in the log: the log
// is their store, so an index on disk keeps none of them in memory.
type chunkText [2]textRef

// shift moves the positions, relative to a record's body, to the file.
func shift(ts []chunkText, by int64) []chunkText {
	for i := range ts {
		ts[i][0].off += by
		ts[i][1].off += by
	}
	return ts
}

type wal struct {
	path string
	f    *os.File
	size int64
	// live is the size of the records of the articles the index holds; a
	// file more than twice as large (and past a floor) is rewritten.
	live    map[string]int64
	liveSum int64
}

// openWAL opens or creates the log at path and replays it through apply. A
// damaged log is reported to apply as nothing at all (no schema), so the
// index comes up unprepared and Prepare reports it fresh.
// Records are applied as they are read, so start-up never holds the log and
// the index in memory at once.
// The index may read earlier records of the file through w while apply
// runs: w's file is set before the first record is replayed.
func openWAL(path string, apply func(*wal, walOp) error) (*wal, error) {
	w := &wal{path: path, live: map[string]int64{}}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("embedded index: open %s: %w", path, err)
	}
	w.f = f
	first := true
	good, err := readAll(bufio.NewReaderSize(f, 1<<20), func(op walOp, n, at int64) error {
		if first && op.kind != opSchema {
			return errors.New("no schema first")
		}
		first = false
		op.at = at
		if err := apply(w, op); err != nil {
			return err
		}
		w.track(op, n)
		return nil
	})
	if err != nil {
		// Damaged: start over, empty and unprepared.
		_ = apply(w, walOp{kind: opDamaged})
		w.track(walOp{kind: opSchema}, 0)
		good = 0
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("embedded index: truncate %s: %w", path, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("embedded index: seek %s: %w", path, err)
	}
	w.f, w.size = f, good
	return w, nil
}

func (w *wal) track(op walOp, n int64) {
	switch op.kind {
	case opSchema:
		w.live, w.liveSum = map[string]int64{}, 0
	case opChange:
		w.liveSum -= w.live[op.change.ArticleID]
		if len(op.change.Chunks) == 0 {
			delete(w.live, op.change.ArticleID)
		} else {
			w.live[op.change.ArticleID] = n
			w.liveSum += n
		}
	}
}

// readAll decodes records until the end or the first damaged one, and
// returns how many bytes were good. err is set when a record was damaged
// (as opposed to cut short at the very end by a crash mid-write, which is
// only the loss of a write whose cursor was never saved).
func readAll(r io.Reader, fn func(op walOp, n, at int64) error) (int64, error) {
	var good int64
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return good, nil
			}
			return good, err
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if n == 0 || n > maxRecord {
			return good, fmt.Errorf("record length %d", n)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return good, nil // cut short at the end
		}
		if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(hdr[4:]) {
			return good, errors.New("checksum mismatch")
		}
		op, err := decodeOp(body)
		if err != nil {
			return good, err
		}
		op.texts = shift(op.texts, good+int64(len(hdr)))
		if err := fn(op, int64(len(hdr))+int64(n), good); err != nil {
			return good, err
		}
		good += int64(len(hdr)) + int64(n)
	}
}

// written says where a change went in the log: its record, and its
// chunks' texts.
type written struct {
	at    int64
	texts []chunkText
}

// append writes the changes, syncs the file once, and returns where each
// went.
func (w *wal) append(changes []index.Change) ([]written, error) {
	var buf []byte
	sizes := make([]int64, len(changes))
	out := make([]written, len(changes))
	for i, c := range changes {
		before := len(buf)
		body, ts := encodeChange(c)
		buf = appendRecord(buf, body)
		at := w.size + int64(before)
		out[i] = written{at: at, texts: shift(ts, at+8)}
		sizes[i] = int64(len(buf) - before)
	}
	if _, err := w.f.Write(buf); err != nil {
		return nil, fmt.Errorf("embedded index: write the log: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		return nil, fmt.Errorf("embedded index: sync the log: %w", err)
	}
	w.size += int64(len(buf))
	for i, c := range changes {
		w.track(walOp{kind: opChange, change: c}, sizes[i])
	}
	return out, nil
}

// readChange reads back the change recorded at at: an article's chunks as
// they were written, their texts left in the file.
func (w *wal) readChange(at int64) (index.Change, error) {
	var hdr [8]byte
	if _, err := w.f.ReadAt(hdr[:], at); err != nil {
		return index.Change{}, fmt.Errorf("embedded index: read the log: %w", err)
	}
	n := binary.LittleEndian.Uint32(hdr[:4])
	if n == 0 || n > maxRecord {
		return index.Change{}, fmt.Errorf("embedded index: the log is damaged at %d", at)
	}
	body := make([]byte, n)
	if _, err := w.f.ReadAt(body, at+8); err != nil {
		return index.Change{}, fmt.Errorf("embedded index: read the log: %w", err)
	}
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(hdr[4:]) {
		return index.Change{}, fmt.Errorf("embedded index: the log is damaged at %d", at)
	}
	op, err := decodeOp(body)
	if err != nil || op.kind != opChange {
		return index.Change{}, fmt.Errorf("embedded index: the log is damaged at %d", at)
	}
	return op.change, nil
}

// readText reads a string the log holds.
func (w *wal) readText(r textRef) (string, error) {
	if r.n == 0 {
		return "", nil
	}
	b := make([]byte, r.n)
	if _, err := w.f.ReadAt(b, r.off); err != nil {
		return "", fmt.Errorf("embedded index: read a text from the log: %w", err)
	}
	// b is never written again: the string can be it instead of a copy
	// (snippets read twenty texts a search).
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

func (w *wal) needsRewrite() bool {
	return w.size > 64<<20 && w.size > 2*w.liveSum
}

// rewrite replaces the log with the schema and the live articles that each
// calls its function with, written to a new file and renamed over the old
// one, so a crash leaves either file whole.
// each's write function returns where what it wrote lies; valid once
// rewrite has returned nil.
func (w *wal) rewrite(s index.Schema, id string, each func(write func(string, []index.Point) (written, error)) error) error {
	tmp := w.path + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("embedded index: create %s: %w", tmp, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	live, size, sum := map[string]int64{}, int64(0), int64(0)
	write := func(body []byte) (int64, error) {
		rec := appendRecord(nil, body)
		_, err := bw.Write(rec)
		size += int64(len(rec))
		return int64(len(rec)), err
	}
	_, err = write(encodeSchema(s, id))
	if err == nil && each != nil {
		err = each(func(a string, chunks []index.Point) (written, error) {
			at := size
			body, ts := encodeChange(index.Change{ArticleID: a, Chunks: chunks})
			n, err := write(body)
			live[a], sum = n, sum+n
			return written{at: at, texts: shift(ts, at+8)}, err
		})
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, w.path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("embedded index: rewrite the log: %w", err)
	}
	syncDir(filepath.Dir(w.path))
	w.f.Close()
	w.f, w.size, w.live, w.liveSum = f, size, live, sum
	return nil
}

func (w *wal) close() error { return w.f.Close() }

// syncDir makes a rename durable; where directories cannot be synced the
// rename is still atomic, only not yet durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

func appendRecord(buf, body []byte) []byte {
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(body)))
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(body, crcTable))
	return append(buf, body...)
}

func encodeSchema(s index.Schema, id string) []byte {
	b := []byte{opSchema, logVersion}
	b = appendString(b, s.Model)
	b = binary.AppendUvarint(b, uint64(s.Dim))
	return appendString(b, id)
}

// encodeChange returns a change's record body and where in it each
// chunk's texts lie.
func encodeChange(c index.Change) ([]byte, []chunkText) {
	b := []byte{opChange}
	b = appendString(b, c.ArticleID)
	b = binary.AppendUvarint(b, uint64(len(c.Chunks)))
	texts := make([]chunkText, len(c.Chunks))
	for i := range c.Chunks {
		b = appendPoint(b, &c.Chunks[i], &texts[i])
	}
	return b, texts
}

func appendPoint(b []byte, p *index.Point, t *chunkText) []byte {
	pl := &p.Payload
	for _, s := range []string{pl.Slug, pl.Domain, pl.Status, pl.VerificationStatus, pl.TitleZH, pl.TitleEN,
		pl.SummaryZH, pl.SummaryEN, pl.Heading} {
		b = appendString(b, s)
	}
	for i, s := range []string{pl.TextZH, pl.TextEN} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		t[i] = textRef{off: int64(len(b)), n: uint32(len(s))}
		b = append(b, s...)
	}
	for _, l := range [][]string{pl.Tags, pl.Langs, pl.Versions} {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, s := range l {
			b = appendString(b, s)
		}
	}
	b = binary.AppendVarint(b, int64(pl.Confidence))
	b = binary.AppendVarint(b, pl.VerifiedAt)
	b = binary.AppendVarint(b, pl.UpdatedAt)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(pl.Boost))
	b = binary.AppendUvarint(b, uint64(len(p.Sparse.Indices)))
	prev := uint32(0)
	for i, t := range p.Sparse.Indices {
		b = binary.AppendUvarint(b, uint64(t-prev)) // sorted: small deltas
		prev = t
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(p.Sparse.Values[i]))
	}
	b = binary.AppendUvarint(b, uint64(len(p.Dense)))
	for _, v := range p.Dense {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads a record body; the first error sticks.
type decoder struct {
	b    []byte
	size int // of the whole body, for positions
	err  error
}

// pos is where in the body the next byte lies.
func (d *decoder) pos() int { return d.size - len(d.b) }

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must fit in what is left of the record, at
// least min bytes per element.
func (d *decoder) count(minBytes int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/max(minBytes, 1)+1) {
		d.err = errors.New("bad length")
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count(1)
	if d.err != nil || n > len(d.b) {
		d.err = errors.New("bad string")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) float() float32 {
	if d.err != nil || len(d.b) < 4 {
		d.err = errors.New("short float")
		return 0
	}
	v := math.Float32frombits(binary.LittleEndian.Uint32(d.b))
	d.b = d.b[4:]
	return v
}

func (d *decoder) float64() float64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = errors.New("short float")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func decodeOp(body []byte) (walOp, error) {
	d := &decoder{b: body[1:], size: len(body)}
	switch body[0] {
	case opSchema:
		if len(d.b) == 0 || d.b[0] != logVersion {
			return walOp{}, errors.New("log version")
		}
		d.b = d.b[1:]
		s := index.Schema{Model: d.string(), Dim: int(d.uvarint())}
		return walOp{kind: opSchema, schema: s, id: d.string()}, d.err
	case opChange:
		c := index.Change{ArticleID: d.string()}
		n := d.count(8)
		texts := make([]chunkText, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			var t chunkText
			c.Chunks = append(c.Chunks, d.point(&t))
			texts = append(texts, t)
		}
		return walOp{kind: opChange, change: c, texts: texts}, d.err
	}
	return walOp{}, fmt.Errorf("unknown operation %d", body[0])
}

func (d *decoder) point(t *chunkText) index.Point {
	var p index.Point
	pl := &p.Payload
	for _, s := range []*string{&pl.Slug, &pl.Domain, &pl.Status, &pl.VerificationStatus, &pl.TitleZH, &pl.TitleEN,
		&pl.SummaryZH, &pl.SummaryEN, &pl.Heading} {
		*s = d.string()
	}
	// The texts stay in the file; only where they lie is kept.
	for i := range t {
		n := d.count(1)
		if d.err != nil || n > len(d.b) {
			d.err = errors.New("bad string")
			break
		}
		t[i] = textRef{off: int64(d.pos()), n: uint32(n)}
		d.b = d.b[n:]
	}
	for _, l := range []*[]string{&pl.Tags, &pl.Langs, &pl.Versions} {
		n := d.count(1)
		for i := 0; i < n && d.err == nil; i++ {
			*l = append(*l, d.string())
		}
	}
	pl.Confidence = int32(d.varint())
	pl.VerifiedAt = d.varint()
	pl.UpdatedAt = d.varint()
	pl.Boost = d.float64()
	n := d.count(5)
	p.Sparse.Indices, p.Sparse.Values = make([]uint32, 0, n), make([]float32, 0, n)
	prev := uint32(0)
	for i := 0; i < n && d.err == nil; i++ {
		prev += uint32(d.uvarint())
		p.Sparse.Indices = append(p.Sparse.Indices, prev)
		p.Sparse.Values = append(p.Sparse.Values, d.float())
	}
	n = d.count(4)
	p.Dense = make([]float32, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		p.Dense = append(p.Dense, d.float())
	}
	return p
}
