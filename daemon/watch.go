package daemon

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watch reloads on requests from reload and, debounced, on changes under
// the checks directory. fsnotify does not recurse, so every directory is
// watched and new ones are added as they appear. The parent of the checks
// directory is watched too: when the directory itself is removed and
// made again (rm -rf checks.d; mkdir checks.d), or is a symlink swapped
// for another (a Kubernetes ConfigMap, a release switch), the watches are
// set up again on what the path now names.
func (d *Daemon) watch(ctx context.Context, reload <-chan struct{}, w *fsnotify.Watcher) {
	root := d.opts.Config.Checks.Dir
	if w != nil {
		defer w.Close()
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		events, errs = w.Events, w.Errors
	}
	absRoot, _ := filepath.Abs(root)
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			_ = d.Reload()
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if abs, _ := filepath.Abs(ev.Name); abs == absRoot {
				// The directory itself was made, removed or replaced:
				// what the watches hold may be gone or stale.
				d.rearm(w, root)
			} else if filepath.Dir(abs) == filepath.Dir(absRoot) {
				continue // another entry beside the checks directory
			} else if ev.Has(fsnotify.Create) {
				d.addDirs(w, ev.Name)
			}
			debounce.Reset(d.opts.Config.Checks.ReloadDebounce.D())
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			d.log.Warn("file watcher", "err", err.Error())
		case <-debounce.C:
			d.log.Info("checks directory changed; reloading")
			// A swap may have happened between the events and now.
			d.rearm(w, root)
			_ = d.Reload()
		}
	}
}

// newWatcher sets up the watches of the checks directory (nil when file
// watching is unavailable). Run does it before it serves, so that a
// change made once the daemon answers is never missed (the watches were
// set up in watch's goroutine, which a swap right after start could beat).
func (d *Daemon) newWatcher() *fsnotify.Watcher {
	root := d.opts.Config.Checks.Dir
	w, err := fsnotify.NewWatcher()
	if err != nil {
		d.log.Warn("file watching unavailable; reload with SIGHUP or POST /-/reload", "err", err.Error())
		return nil
	}
	d.watchParent(w, root)
	d.rearm(w, root)
	return w
}

// watchParent watches the directory that holds root, for root's own
// creation, removal and replacement.
func (d *Daemon) watchParent(w *fsnotify.Watcher, root string) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return
	}
	parent := filepath.Dir(abs)
	if parent == abs {
		return // root is /
	}
	if err := w.Add(parent); err != nil {
		d.log.Warn("cannot watch the directory holding the checks; recreating the checks directory will need SIGHUP", "dir", parent, "err", err.Error())
	}
}

// rearm drops the watches under root and watches what root names now,
// following a symlinked root.
func (d *Daemon) rearm(w *fsnotify.Watcher, root string) {
	if w == nil {
		return
	}
	abs, _ := filepath.Abs(root)
	parent := filepath.Dir(abs)
	for _, p := range w.WatchList() {
		if pa, _ := filepath.Abs(p); pa != parent {
			_ = w.Remove(p)
		}
	}
	d.addDirs(w, root)
}

// addDirs watches root and every directory below it. A symlinked root is
// followed (the trailing separator makes WalkDir descend into it).
func (d *Daemon) addDirs(w *fsnotify.Watcher, root string) {
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return // not there (yet): the parent's watch tells when it is
	}
	_ = filepath.WalkDir(root+string(filepath.Separator), func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return nil
		}
		if err := w.Add(filepath.Clean(p)); err != nil {
			d.log.Warn("cannot watch directory", "dir", p, "err", err.Error())
		}
		return nil
	})
}
