package embed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync/atomic"

	"buzhou.dev/search/internal/analysis"
	"buzhou.dev/search/internal/index"
)

// Learned is the embedder learned offline from the hub's own articles:
// latent semantic analysis. A term–unit matrix (tf-idf) over units that
// hold both languages of the same text — a whole article, its title with its
// summary, each QA pair — is reduced by a truncated SVD, so terms that occur
// together, in either language, share directions: a Chinese query lands
// near an article whose best match is its English half. Texts embed as the
// tf-idf weighted sum of their terms' vectors, concatenated with the hashing
// embedder's surface features (weighted by Surface), then normalised. The
// model is swapped whole on relearning; Model names it by a hash of its
// contents, so the index knows when to rebuild.
type Learned struct {
	m    atomic.Pointer[Model]
	hash *Hashing
}

// lsaSigmaPower scales term vectors by Σ^(1−p): p = 1 gives V.
const lsaSigmaPower = 0.5

// LearnedPrefix starts the name of every learned model.
const LearnedPrefix = "lsa-v1-"

// Model is a learned model.
type Model struct {
	name  string
	dim   int // LSA dimensions
	terms map[string]int32
	idf   []float32
	vecs  []float32 // len(terms) × dim
	// Surface weighs the hashing features against the semantic ones.
	surface float32
	hashDim int
}

// NewLearned returns an embedder over m.
func NewLearned(m *Model) *Learned {
	l := &Learned{}
	l.Swap(m)
	return l
}

// Swap replaces the model; vectors of the old and new one must not be
// mixed, which Model() tells the index.
func (l *Learned) Swap(m *Model) {
	l.m.Store(m)
}

// Current returns the model in use.
func (l *Learned) Current() *Model { return l.m.Load() }

// Model implements Embedder.
func (l *Learned) Model() string { return l.m.Load().name }

// Dim implements Embedder.
func (l *Learned) Dim() int { m := l.m.Load(); return m.dim + m.hashDim }

// Embed implements Embedder.
func (l *Learned) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	m := l.m.Load()
	h := NewHashing(m.hashDim)
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v := make([]float32, m.dim+m.hashDim)
		m.project(t, v[:m.dim])
		if m.hashDim > 0 {
			hv := h.embed(t)
			for j, x := range hv {
				v[m.dim+j] = m.surface * x
			}
		}
		out[i] = index.Normalize(v)
	}
	return out, nil
}

// project writes the unit-length semantic vector of text into v, which
// stays zero when text holds no known term.
func (m *Model) project(text string, v []float32) {
	tf := map[int32]float32{}
	for _, t := range analysis.Terms(text) {
		if id, ok := m.terms[t]; ok {
			tf[id]++
		}
	}
	for id, c := range tf {
		w := (1 + float32(math.Log(float64(c)))) * m.idf[id]
		row := m.vecs[int(id)*m.dim : int(id+1)*m.dim]
		for j := range v {
			v[j] += w * row[j]
		}
	}
	index.Normalize(v)
}

// Name is the model's name, e.g. "lsa-v1-3f2a9c…".
func (m *Model) Name() string { return m.name }

// Terms is the vocabulary size.
func (m *Model) Terms() int { return len(m.terms) }

// Has reports whether term is in the vocabulary (spelling correction uses
// it).
func (m *Model) Has(term string) bool { _, ok := m.terms[term]; return ok }

// Vocabulary returns every term, for spelling correction.
func (m *Model) Vocabulary() []string {
	out := make([]string, 0, len(m.terms))
	for t := range m.terms {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// LearnConfig shapes learning.
type LearnConfig struct {
	// Dim is the number of LSA dimensions (fewer when there are fewer
	// units); 0 means 128.
	Dim int
	// MaxUnits bounds the units learned from, sampled evenly when there
	// are more; 0 means 6000.
	MaxUnits int
	// HashDim is the size of a surface part (the hashing embedder's
	// features) added to the semantic one; 0 means none, which measured
	// best on the development queries.
	HashDim int
	// Surface weighs the surface part; 0 means 0.6.
	Surface float64
}

// fallbackHashDim is the surface part of a model learned from too little
// text to learn anything from: it then embeds like the hashing embedder.
const fallbackHashDim = 384

// Learn learns a model from units of text; each unit should hold both
// language versions of the same content. It is deterministic: the same
// units give the same model and name.
func Learn(units []string, cfg LearnConfig) (*Model, error) {
	if cfg.Dim <= 0 {
		cfg.Dim = 128
	}
	if cfg.MaxUnits <= 0 {
		cfg.MaxUnits = 6000
	}
	if cfg.Surface == 0 {
		cfg.Surface = 0.6
	}
	if len(units) > cfg.MaxUnits {
		step := float64(len(units)) / float64(cfg.MaxUnits)
		sample := make([]string, 0, cfg.MaxUnits)
		for i := range cfg.MaxUnits {
			sample = append(sample, units[int(float64(i)*step)])
		}
		units = sample
	}
	// Term counts per unit and document frequencies.
	terms := map[string]int32{}
	var names []string
	type entry struct {
		id int32
		v  float32
	}
	rows := make([][]entry, 0, len(units))
	var df []int
	for _, u := range units {
		tf := map[int32]float32{}
		for _, t := range analysis.Terms(u) {
			id, ok := terms[t]
			if !ok {
				id = int32(len(names))
				terms[t] = id
				names = append(names, t)
				df = append(df, 0)
			}
			tf[id]++
		}
		row := make([]entry, 0, len(tf))
		for id, c := range tf {
			df[id]++
			row = append(row, entry{id, c})
		}
		slices.SortFunc(row, func(a, b entry) int { return int(a.id - b.id) })
		rows = append(rows, row)
	}
	if len(rows) < 8 || len(names) < 16 {
		// Nothing to learn yet (a new hub): embed by surface features until
		// a reindex learns from real articles.
		m := &Model{terms: map[string]int32{}, surface: 1, hashDim: fallbackHashDim}
		m.name = LearnedPrefix + m.fingerprint()
		return m, nil
	}
	n := float64(len(rows))
	idf := make([]float32, len(names))
	for i, d := range df {
		idf[i] = float32(math.Log(1 + n/float64(d)))
	}
	for _, row := range rows {
		var norm float64
		for i := range row {
			row[i].v = (1 + float32(math.Log(float64(row[i].v)))) * idf[row[i].id]
			norm += float64(row[i].v) * float64(row[i].v)
		}
		inv := float32(1 / math.Sqrt(norm))
		for i := range row {
			row[i].v *= inv
		}
	}
	k := min(cfg.Dim, len(rows)-1, len(names)-1)
	l := min(k+10, len(rows), len(names))
	nTerms := len(names)
	// A·X for X terms×l, and Aᵀ·Y for Y units×l, both dense row-major.
	mulA := func(x []float64) []float64 {
		y := make([]float64, len(rows)*l)
		for i, row := range rows {
			yi := y[i*l : (i+1)*l]
			for _, e := range row {
				xr := x[int(e.id)*l : int(e.id+1)*l]
				for j := range yi {
					yi[j] += float64(e.v) * xr[j]
				}
			}
		}
		return y
	}
	mulAT := func(y []float64) []float64 {
		x := make([]float64, nTerms*l)
		for i, row := range rows {
			yi := y[i*l : (i+1)*l]
			for _, e := range row {
				xr := x[int(e.id)*l : int(e.id+1)*l]
				for j := range xr {
					xr[j] += float64(e.v) * yi[j]
				}
			}
		}
		return x
	}
	// Randomized range finder with two power iterations (Halko et al.).
	rng := rand.New(rand.NewPCG(1, 2))
	omega := make([]float64, nTerms*l)
	for i := range omega {
		omega[i] = rng.NormFloat64()
	}
	y := mulA(omega)
	orthonormalize(y, len(rows), l)
	for range 2 {
		x := mulAT(y)
		orthonormalize(x, nTerms, l)
		y = mulA(x)
		orthonormalize(y, len(rows), l)
	}
	// B = Qᵀ A is l × terms; stored as Bᵀ (terms × l) = Aᵀ Q.
	bt := mulAT(y)
	// B Bᵀ (l × l) = Σ_t bt[t]ᵀ bt[t]; its eigenvectors give B's left
	// singular vectors, and V = Bᵀ Ũ Σ⁻¹.
	g := make([]float64, l*l)
	for t := range nTerms {
		r := bt[t*l : (t+1)*l]
		for a := range l {
			if r[a] == 0 {
				continue
			}
			for b := range l {
				g[a*l+b] += r[a] * r[b]
			}
		}
	}
	vals, vecs := jacobiEigen(g, l)
	order := make([]int, l)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return vals[order[a]] > vals[order[b]] })
	m := &Model{dim: k, terms: terms, idf: idf, vecs: make([]float32, nTerms*k), surface: float32(cfg.Surface), hashDim: cfg.HashDim}
	for c := range k {
		ev := order[c]
		sigma := math.Sqrt(max(vals[ev], 1e-12))
		for t := range nTerms {
			r := bt[t*l : (t+1)*l]
			var s float64
			for a := range l {
				s += r[a] * vecs[a*l+ev]
			}
			// Term vector = V (s is V·Σ): a unit's text then lands at its
			// U·Σ coordinates, and a query where the units it resembles are.
			m.vecs[t*k+c] = float32(s / math.Pow(sigma, lsaSigmaPower))
		}
	}
	m.name = LearnedPrefix + m.fingerprint()
	return m, nil
}

// orthonormalize turns the l columns of the rows×l matrix a into an
// orthonormal basis (modified Gram–Schmidt).
func orthonormalize(a []float64, rows, l int) {
	for c := range l {
		for p := range c {
			var dot float64
			for r := range rows {
				dot += a[r*l+c] * a[r*l+p]
			}
			for r := range rows {
				a[r*l+c] -= dot * a[r*l+p]
			}
		}
		var norm float64
		for r := range rows {
			norm += a[r*l+c] * a[r*l+c]
		}
		norm = math.Sqrt(norm)
		if norm < 1e-12 {
			for r := range rows {
				a[r*l+c] = 0
			}
			continue
		}
		for r := range rows {
			a[r*l+c] /= norm
		}
	}
}

// jacobiEigen returns the eigenvalues and eigenvectors (columns of the
// row-major n×n result) of the symmetric matrix a, by cyclic Jacobi
// rotations; n is small (the sketch size).
func jacobiEigen(a []float64, n int) ([]float64, []float64) {
	a = slices.Clone(a)
	v := make([]float64, n*n)
	for i := range n {
		v[i*n+i] = 1
	}
	for sweep := 0; sweep < 100; sweep++ {
		off := 0.0
		for p := range n {
			for q := p + 1; q < n; q++ {
				off += a[p*n+q] * a[p*n+q]
			}
		}
		if off < 1e-22 {
			break
		}
		for p := range n {
			for q := p + 1; q < n; q++ {
				apq := a[p*n+q]
				if math.Abs(apq) < 1e-30 {
					continue
				}
				theta := (a[q*n+q] - a[p*n+p]) / (2 * apq)
				t := math.Copysign(1, theta) / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := range n {
					akp, akq := a[k*n+p], a[k*n+q]
					a[k*n+p], a[k*n+q] = c*akp-s*akq, s*akp+c*akq
				}
				for k := range n {
					apk, aqk := a[p*n+k], a[q*n+k]
					a[p*n+k], a[q*n+k] = c*apk-s*aqk, s*apk+c*aqk
				}
				for k := range n {
					vkp, vkq := v[k*n+p], v[k*n+q]
					v[k*n+p], v[k*n+q] = c*vkp-s*vkq, s*vkp+c*vkq
				}
			}
		}
	}
	vals := make([]float64, n)
	for i := range n {
		vals[i] = a[i*n+i]
	}
	return vals, v
}

// fingerprint hashes the model's contents.
func (m *Model) fingerprint() string {
	b, _ := m.MarshalBinary()
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// modelMagic starts a serialised model.
const modelMagic = "BZLSA1"

// MarshalBinary serialises the model (its name excluded: it is derived).
func (m *Model) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(modelMagic)
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	w(uint32(m.dim))
	w(uint32(m.hashDim))
	w(m.surface)
	names := make([]string, len(m.terms))
	for t, id := range m.terms {
		names[id] = t
	}
	w(uint32(len(names)))
	for i, t := range names {
		w(uint16(len(t)))
		b.WriteString(t)
		w(m.idf[i])
	}
	w(m.vecs)
	return b.Bytes(), nil
}

// UnmarshalModel reads a model MarshalBinary wrote.
func UnmarshalModel(data []byte) (*Model, error) {
	r := bytes.NewReader(data)
	magic := make([]byte, len(modelMagic))
	if _, err := r.Read(magic); err != nil || string(magic) != modelMagic {
		return nil, errors.New("embed: not a learned model")
	}
	var dim, hashDim, n uint32
	m := &Model{terms: map[string]int32{}}
	rd := func(v any) error { return binary.Read(r, binary.LittleEndian, v) }
	if err := errors.Join(rd(&dim), rd(&hashDim), rd(&m.surface), rd(&n)); err != nil {
		return nil, fmt.Errorf("embed: read the model header: %w", err)
	}
	if dim+hashDim == 0 || dim > 4096 || hashDim > 4096 || int64(n)*int64(dim)*4 > int64(len(data)) {
		return nil, errors.New("embed: the model header is damaged")
	}
	m.dim, m.hashDim = int(dim), int(hashDim)
	m.idf = make([]float32, n)
	for i := range n {
		var l uint16
		if err := rd(&l); err != nil {
			return nil, fmt.Errorf("embed: read the vocabulary: %w", err)
		}
		t := make([]byte, l)
		if _, err := r.Read(t); err != nil && l > 0 {
			return nil, fmt.Errorf("embed: read the vocabulary: %w", err)
		}
		m.terms[string(t)] = int32(i)
		if err := rd(&m.idf[i]); err != nil {
			return nil, fmt.Errorf("embed: read the vocabulary: %w", err)
		}
	}
	m.vecs = make([]float32, int(n)*m.dim)
	if err := rd(m.vecs); err != nil {
		return nil, fmt.Errorf("embed: read the vectors: %w", err)
	}
	m.name = LearnedPrefix + m.fingerprint()
	return m, nil
}
