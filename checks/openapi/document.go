package openapi

import "github.com/getkin/kin-openapi/openapi3"

// Document is the loaded, resolved document ($refs followed), for code
// that reads the spec rather than validating against it (assay init
// --from-openapi). It must not be changed.
func (s *Spec) Document() *openapi3.T { return s.doc }
