package engine

import (
	"container/list"
	"errors"
	"fmt"
	"sync"

	"github.com/wasmstate/wasmstate/engine/internal/wasmbin"
	"github.com/wasmstate/wasmstate/merkle"
)

// A memory image is a contract's committed memory written once into an
// in-memory file, which every later instance of the contract maps
// privately over its linear memory: the kernel then brings each page in on
// first touch (from the page cache on a read, copied on the first write),
// so loading a stored contract costs what its calls touch, not the size of
// its memory. One image serves the contract at every root: a load maps it
// and writes the pages where the root differs from the image (found by
// walking the two memory trees, DiffMemory), and an image that drifted too
// far from the roots being loaded is rebuilt. Pages are verified once, when
// they enter an image. Where memory files are not available (not Linux),
// images are off and stored contracts load eagerly.

// errImagesOff: this platform cannot map memory images.
var errImagesOff = errors.New("engine: memory images unavailable")

// memImage is one contract's committed memory at root, in an image file.
type memImage struct {
	id     merkle.ContractID
	root   merkle.Hash
	length uint64 // bytes the file covers: the memory length at root
	pages  uint64 // non-zero pages written into the file
	file   imageFile
	// tree is the memory tree at root, every node resolved and frozen:
	// a contract loaded from the image rebases its own tree on it
	// (merkle.MemTree.Rebase), so that finding a written page's old hash,
	// and its path at commit, reads nothing from the store.
	tree *merkle.MemTree
	refs int  // maps in progress; the file closes when 0 and dropped
	gone bool // dropped from the cache
	elem *list.Element
}

// bytes is what the image costs in memory: its pages and its tree's nodes
// (about two of treeNodeBytes per page).
func (m *memImage) bytes() uint64 { return m.pages * (merkle.PageSize + 2*treeNodeBytes) }

// treeNodeBytes is the size of a memory-tree node in memory, roughly.
const treeNodeBytes = 64

// imageCache holds the newest image of each contract, least recently used
// dropped first past its byte budget.
type imageCache struct {
	mu     sync.Mutex
	byID   map[merkle.ContractID]*memImage
	lru    list.List // front: most recently used
	bytes  uint64
	budget uint64
	// building serialises building one contract's image: two sessions
	// loading it at once build it once.
	building map[merkle.ContractID]*sync.Mutex
	builds   uint64 // images built, for tests and Stats
}

// maxImages bounds the images kept: each holds a file descriptor.
const maxImages = 1024

func newImageCache(budget uint64) *imageCache {
	return &imageCache{byID: map[merkle.ContractID]*memImage{}, budget: budget,
		building: map[merkle.ContractID]*sync.Mutex{}}
}

// acquire returns the image of id, referenced until release.
func (c *imageCache) acquire(id merkle.ContractID) *memImage {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.byID[id]
	if m != nil {
		m.refs++
		c.lru.MoveToFront(m.elem)
	}
	return m
}

func (c *imageCache) release(m *memImage) {
	c.mu.Lock()
	m.refs--
	closeIt := m.refs == 0 && m.gone
	c.mu.Unlock()
	if closeIt {
		m.file.close()
	}
}

// add makes m the image of its contract (replacing an older one) and
// returns it referenced.
func (c *imageCache) add(m *memImage) *memImage {
	c.mu.Lock()
	if old := c.byID[m.id]; old != nil {
		c.dropLocked(old)
	}
	m.refs = 1
	m.elem = c.lru.PushFront(m)
	c.byID[m.id] = m
	c.bytes += m.bytes()
	c.builds++
	for (c.bytes > c.budget || c.lru.Len() > maxImages) && c.lru.Len() > 1 {
		c.dropLocked(c.lru.Back().Value.(*memImage))
	}
	c.mu.Unlock()
	return m
}

// dropLocked removes m from the cache and closes its file unless a map is
// in progress (release closes it then). Mappings made from it stay valid.
func (c *imageCache) dropLocked(m *memImage) {
	if m.gone {
		return
	}
	m.gone = true
	c.lru.Remove(m.elem)
	delete(c.byID, m.id)
	c.bytes -= m.bytes()
	if m.refs == 0 {
		m.file.close()
	}
}

// buildLock returns the mutex that serialises building id's image.
func (c *imageCache) buildLock(id merkle.ContractID) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.building[id]
	if l == nil {
		l = &sync.Mutex{}
		c.building[id] = l
	}
	return l
}

// close drops every image (mappings made from them stay valid).
func (c *imageCache) close() {
	c.mu.Lock()
	for _, m := range c.byID {
		c.dropLocked(m)
	}
	c.mu.Unlock()
}

// stats returns the number of images, their bytes and the builds so far.
func (c *imageCache) stats() (n int, bytes, builds uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID), c.bytes, c.builds
}

// maxOverlay is how many pages a load may write over an image before the
// image is rebuilt at the root being loaded: a quarter of the image's
// pages, at least 256 (1 MiB), so rebuilding costs at most a few loads'
// worth of overlay each time.
func maxOverlay(m *memImage) int { return int(max(256, m.pages/4)) }

// errTooFar stops a diff that found more pages than an overlay may write.
var errTooFar = errors.New("image too far from the root")

// loadMemory fills mem, the linear memory of a fresh instance of contract
// id (len(mem) bytes, data segments applied), with the committed memory at
// root (length bytes long), except the pages in skip (the session's own copies, which the
// caller writes). It maps the contract's image where images are on and
// the memory is large enough to gain from it; otherwise it copies every
// stored page. mapped reports which.
func (e *Engine) loadMemory(id merkle.ContractID, root merkle.Hash, length uint64, mem []byte, dataRanges []wasmbin.DataRange, skip map[uint64][]byte) (mapped bool, err error) {
	return e.loadImage(id, root, length, mem, dataRanges, skip, false)
}

// loadImage is loadMemory; with exact, the memory maps the image whatever
// its size and nothing is written into it: the pages where root differs
// from the image are mapped from a second file holding just them (see
// mapOverlay). A recording session learns from the mapping which pages
// were touched, and an overlay written in would count as touched.
func (e *Engine) loadImage(id merkle.ContractID, root merkle.Hash, length uint64, mem []byte, dataRanges []wasmbin.DataRange, skip map[uint64][]byte, exact bool) (mapped bool, err error) {
	if e.images != nil && (exact || uint64(len(mem)) >= e.imageAbove) && root != merkle.EmptyMemoryRoot() {
		err := e.mapImage(id, root, length, mem, dataRanges, skip, exact)
		if err == nil {
			return true, nil
		}
		if errors.Is(err, errImageBuild) {
			// Out of memory for the file, a failing syscall: the load
			// itself can still succeed eagerly.
			e.log.Warn("memory image unusable; loading eagerly", "contract", id.String(), "err", err)
		} else {
			return false, err
		}
	}
	for _, d := range dataRanges {
		clear(mem[d.Offset : d.Offset+d.Length]) // validated: inside the initial memory
	}
	return false, merkle.NewMemTree(root, e.store).ForEachPage(func(i uint64, h merkle.Hash) error {
		if i*merkle.PageSize >= uint64(len(mem)) {
			return nil
		}
		if _, ok := skip[i]; ok {
			return nil
		}
		return e.store.ReadPage(h, mem[i*merkle.PageSize:(i+1)*merkle.PageSize])
	})
}

// errImageBuild marks failures of the image machinery (not of the store):
// the caller falls back to an eager load.
var errImageBuild = errors.New("engine: memory image")

// mapImage is loadMemory through the contract's image.
func (e *Engine) mapImage(id merkle.ContractID, root merkle.Hash, length uint64, mem []byte, dataRanges []wasmbin.DataRange, skip map[uint64][]byte, exact bool) error {
	img, overlay, err := e.imageFor(id, root, length)
	if err != nil {
		return err
	}
	defer e.images.release(img)
	n := min(uint64(len(mem)), img.length)
	if err := img.file.mapOver(mem[:n]); err != nil {
		// A failed MAP_FIXED may have unmapped the range: the instance
		// cannot be used any more, so this is no case for a fallback.
		return fmt.Errorf("%w: map memory image: %w", ErrInternal, err)
	}
	// Past the image, the memory is the instance's own: zero, but for
	// data segments there.
	for _, d := range dataRanges {
		if end := d.Offset + d.Length; end > n {
			clear(mem[max(d.Offset, n):end])
		}
	}
	if exact {
		// Over the whole memory: the root's memory may be longer than
		// the image's.
		return e.mapOverlay(overlay, mem)
	}
	for _, p := range overlay {
		if p.index*merkle.PageSize >= uint64(len(mem)) {
			continue
		}
		if _, ok := skip[p.index]; ok {
			continue
		}
		if err := e.store.ReadPage(p.hash, mem[p.index*merkle.PageSize:(p.index+1)*merkle.PageSize]); err != nil {
			return err
		}
	}
	return nil
}

type overlayPage struct {
	index uint64
	hash  merkle.Hash
}

// imageFor returns, referenced, an image of contract id and the pages where
// root differs from it: the current image when it is close enough (when it
// otherwise a new one built at root.
func (e *Engine) imageFor(id merkle.ContractID, root merkle.Hash, length uint64) (*memImage, []overlayPage, error) {
	if img := e.images.acquire(id); img != nil {
		overlay, err := e.overlay(img, root)
		if err == nil {
			return img, overlay, nil
		}
		e.images.release(img)
		// The image's own root may have been deleted and collected since
		// it was built: its nodes are gone, so it is rebuilt like one too
		// far away (the loaded root's nodes are checked by the build).
		var missing *merkle.MissingNodeError
		if !errors.Is(err, errTooFar) && !errors.As(err, &missing) {
			return nil, nil, err
		}
	}
	l := e.images.buildLock(id)
	l.Lock()
	defer l.Unlock()
	// Another load may have built it meanwhile.
	if img := e.images.acquire(id); img != nil {
		if img.root == root {
			return img, nil, nil
		}
		e.images.release(img)
	}
	img, err := e.buildImage(id, root, length)
	if err != nil {
		return nil, nil, err
	}
	return e.images.add(img), nil, nil
}

// mapOverlay maps the overlay pages over mem (an image's mapping) from a
// file of their own, each run of consecutive pages with one mmap: they
// read as root's pages, yet stay unpopulated until touched. The file is
// closed at once (the mappings keep it).
func (e *Engine) mapOverlay(overlay []overlayPage, mem []byte) error {
	if len(overlay) == 0 {
		return nil
	}
	f, err := newImageFile(uint64(len(mem)))
	if err != nil {
		return fmt.Errorf("%w: overlay file: %w", ErrInternal, err)
	}
	defer f.close()
	buf := make([]byte, merkle.PageSize)
	for _, p := range overlay {
		if p.index*merkle.PageSize >= uint64(len(mem)) || p.hash == merkle.EmptyPageHash() {
			continue // past the mapping, or zero: a hole reads as zero
		}
		if err := e.store.ReadPage(p.hash, buf); err != nil {
			return err
		}
		if err := f.writePage(p.index, buf); err != nil {
			return fmt.Errorf("%w: overlay file: %w", ErrInternal, err)
		}
	}
	for i := 0; i < len(overlay); {
		j := i + 1
		for j < len(overlay) && overlay[j].index == overlay[j-1].index+1 {
			j++
		}
		from, to := overlay[i].index*merkle.PageSize, min(overlay[j-1].index*merkle.PageSize+merkle.PageSize, uint64(len(mem)))
		if from < to {
			if err := f.mapAt(mem[from:to], from); err != nil {
				return fmt.Errorf("%w: map overlay: %w", ErrInternal, err)
			}
		}
		i = j
	}
	return nil
}

// overlay lists the pages where root differs from img.
func (e *Engine) overlay(img *memImage, root merkle.Hash) ([]overlayPage, error) {
	var out []overlayPage
	limit := maxOverlay(img)
	err := merkle.DiffMemory(e.store, img.root, root, func(i uint64, h merkle.Hash) error {
		if len(out) == limit {
			return errTooFar
		}
		out = append(out, overlayPage{i, h})
		return nil
	})
	return out, err
}

// buildImage writes the committed memory at root (length bytes) into a new image file,
// verifying every page it reads.
func (e *Engine) buildImage(id merkle.ContractID, root merkle.Hash, length uint64) (*memImage, error) {
	f, err := newImageFile(length)
	if err != nil {
		return nil, fmt.Errorf("%w: create: %w", errImageBuild, err)
	}
	img := &memImage{id: id, root: root, length: length, file: f, tree: merkle.NewMemTree(root, e.store)}
	buf := make([]byte, merkle.PageSize)
	err = img.tree.ForEachPage(func(i uint64, h merkle.Hash) error {
		if i*merkle.PageSize >= length {
			return nil
		}
		if err := e.store.ReadPageUncached(h, buf); err != nil {
			return err
		}
		if err := f.writePage(i, buf); err != nil {
			return fmt.Errorf("%w: write: %w", errImageBuild, err)
		}
		img.pages++
		return nil
	})
	if err == nil {
		// The walk resolved every node: freezing only marks them.
		err = img.tree.Freeze()
	}
	if err != nil {
		f.close()
		return nil, err
	}
	return img, nil
}

// imageTree returns the frozen memory tree of contract id's image, or nil.
func (e *Engine) imageTree(id merkle.ContractID) *merkle.MemTree {
	if e.images == nil {
		return nil
	}
	img := e.images.acquire(id)
	if img == nil {
		return nil
	}
	defer e.images.release(img)
	return img.tree
}
