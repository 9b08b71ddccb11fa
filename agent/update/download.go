package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"casefleet/shared/release"
)

// maxStalls is how many requests in a row may bring no byte of a
// download before it fails; a request that brings some resets the count.
const maxStalls = 5

// errCut is wrapped by the errors of a download cut short: it resumes.
var errCut = errors.New("cut")

// errDisk is wrapped by the errors of writing a download (a full disk, a
// read-only file system): the partial file is removed, to give the space
// back.
var errDisk = errors.New("cannot write the download")

// fetchPackage downloads the package p of version into dir/p.File, or
// keeps it if it is already there and checks. A download goes to
// p.File+".part" first and resumes from there with a Range request after
// a cut (also after a restart); the whole file is checked against p (size
// and SHA-256) before it is renamed into place. A cut with the tunnel
// gone ends with an error wrapping errWait and the partial file kept.
func (u *Updater) fetchPackage(ctx context.Context, version string, p release.Package, dir string) error {
	final := filepath.Join(dir, p.File)
	if checkFile(final, p) == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("%w: %w", errDisk, err)
	}
	part := final + partSuffix
	stalls := 0
	for {
		off, err := partSize(part, p.Size)
		if err != nil {
			return err
		}
		if off == p.Size {
			break
		}
		u.progress(version, off, p.Size)
		n, done, err := u.fetchRange(ctx, version, p, part, off)
		if errors.Is(err, errDisk) {
			os.Remove(part)
			return err
		}
		if errors.Is(err, errWait) || ctx.Err() != nil {
			return err
		}
		if errors.Is(err, release.ErrMismatch) {
			os.Remove(part)
			return err
		}
		if err != nil && !errors.Is(err, errCut) {
			return err
		}
		if err != nil {
			if n > 0 {
				stalls = 0
			} else if stalls++; stalls >= maxStalls {
				return err
			}
			u.log.Info("download cut: resuming", "version", version, "file", p.File, "have", off+n, "size", p.Size, "err", err)
			continue
		}
		if done && off+n < p.Size {
			os.Remove(part)
			return fmt.Errorf("%w: truncated download: the relay sent %d of %s's %d bytes", release.ErrMismatch, off+n, p.File, p.Size)
		}
	}
	u.progress(version, p.Size, p.Size)
	if err := checkFile(part, p); err != nil {
		os.Remove(part)
		return err
	}
	if err := os.Rename(part, final); err != nil {
		return fmt.Errorf("%w: %w", errDisk, err)
	}
	syncDir(dir)
	return nil
}

// partSize is how much of a download is on disk; a part longer than the
// package (a different file) is dropped.
func partSize(part string, size int64) (int64, error) {
	fi, err := os.Stat(part)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("%w: %w", errDisk, err)
	case !fi.Mode().IsRegular() || fi.Size() > size:
		os.Remove(part)
		return 0, nil
	}
	return fi.Size(), nil
}

// fetchRange asks for the package from byte off and appends what comes
// to part. It returns how many bytes it wrote and whether the relay sent
// its answer to the end (no cut).
func (u *Updater) fetchRange(ctx context.Context, version string, p release.Package, part string, off int64) (int64, bool, error) {
	h := http.Header{}
	if off > 0 {
		h.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := u.get(ctx, releasePath(version, p.File), h)
	if err != nil {
		// A stream the relay reset, say: try again, a few times.
		return 0, false, fmt.Errorf("download %s: %w: %w", p.File, errCut, err)
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	switch {
	case resp.StatusCode == http.StatusOK:
		// The whole file: from the start, whatever was there.
		off, flags = 0, os.O_WRONLY|os.O_CREATE|os.O_TRUNC
	case resp.StatusCode == http.StatusPartialContent && off > 0 && strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(off, 10)+"-"):
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return 0, true, fmt.Errorf("%w: %s: the relay has less than the %d bytes already downloaded", release.ErrMismatch, p.File, off)
	default:
		return 0, true, fmt.Errorf("download %s of %s: %s", p.File, version, statusText(resp))
	}
	f, err := u.openFile(part, flags, 0o640)
	if err != nil {
		return 0, false, fmt.Errorf("%w: %w", errDisk, err)
	}
	n, rerr, werr := copyCounting(f, io.LimitReader(resp.Body, p.Size-off+1), func(n int64) { u.progress(version, off+n, p.Size) })
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return n, false, fmt.Errorf("%w %s: %w", errDisk, part, werr)
	}
	if off+n > p.Size {
		return n, true, fmt.Errorf("%w: %s is longer than the manifest's %d bytes", release.ErrMismatch, p.File, p.Size)
	}
	if rerr != nil {
		return n, false, fmt.Errorf("download %s: %w after %d bytes: %w", p.File, errCut, off+n, waitOr(rerr))
	}
	return n, true, nil
}

// copyCounting copies src to dst, telling apart a failed read (a cut)
// from a failed write (the disk).
func copyCounting(dst io.Writer, src io.Reader, progress func(int64)) (n int64, rerr, werr error) {
	buf := make([]byte, 64<<10)
	for {
		m, err := src.Read(buf)
		if m > 0 {
			w, err := dst.Write(buf[:m])
			n += int64(w)
			if err != nil {
				return n, nil, err
			}
			progress(n)
		}
		if err == io.EOF {
			return n, nil, nil
		}
		if err != nil {
			return n, err, nil
		}
	}
}

// checkFile checks the file at path against p: size and SHA-256.
func checkFile(path string, p release.Package) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return p.Check(f)
}
