package checks

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// tlsIdentity tells TLS options apart by what they do, so that the runner
// keeps one client per configuration however many checks share it and
// however often they are loaded again. The files count by content: a
// reload that reads a changed CA or client certificate gets a new client,
// one that reads the same files shares the client of the last load.
type tlsIdentity struct {
	set        bool
	insecure   bool
	serverName string
	caFile     string
	certFile   string
	keyFile    string
	// files is the SHA-256 of the files read, each with its role and
	// length (zero when none or not loaded).
	files [sha256.Size]byte
}

// identity is o's identity; the zero identity for no options.
func (o *TLSOptions) identity() tlsIdentity {
	if o == nil {
		return tlsIdentity{}
	}
	if o.id.set {
		return o.id
	}
	return tlsIdentity{set: true, insecure: o.InsecureSkipVerify, serverName: o.ServerName,
		caFile: o.CAFile, certFile: o.CertFile, keyFile: o.KeyFile}
}

// filesSum hashes the files TLS options read.
type filesSum struct{ h hash.Hash }

func newFilesSum() filesSum { return filesSum{sha256.New()} }

func (f filesSum) add(role string, content []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(content)))
	f.h.Write([]byte(role))
	f.h.Write(n[:])
	f.h.Write(content)
}

func (f filesSum) sum() (s [sha256.Size]byte) {
	copy(s[:], f.h.Sum(nil))
	return s
}
