package fim

import (
	"fmt"
	"regexp"
	"strings"
)

// Glob is a compiled path pattern:
//
//   - any run of characters within one path component
//     ?      one character within a component
//     [a-z]  a character class, [!a-z] its complement
//     {a,b}  either alternative (expanded at compile time)
//     **     any number of components, including none: "/etc/**" matches
//     /etc itself and everything below it, "/**/bin/ssh" matches
//     /bin/ssh and /usr/local/bin/ssh
//
// Patterns are absolute. Matching tries a literal prefix and suffix before
// the regular expression, so the common shapes ("/usr/bin/**",
// "**/*.log", "/etc/passwd") cost a string comparison per path.
type Glob struct {
	pattern string
	alts    []globAlt
}

type globAlt struct {
	prefix, suffix string
	literal        bool           // the whole pattern is the prefix
	subtree        bool           // prefix + "/**": the prefix and everything below
	re             *regexp.Regexp // nil when literal or subtree
}

// CompileGlob compiles a pattern.
func CompileGlob(pattern string) (*Glob, error) {
	if !strings.HasPrefix(pattern, "/") {
		return nil, fmt.Errorf("pattern %q must be an absolute path", pattern)
	}
	alts, err := expandBraces(pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	g := &Glob{pattern: pattern}
	for _, a := range alts {
		c, err := compileAlt(a)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", pattern, err)
		}
		g.alts = append(g.alts, c)
	}
	return g, nil
}

// String returns the pattern as written.
func (g *Glob) String() string { return g.pattern }

// Match reports whether the absolute path matches.
func (g *Glob) Match(path string) bool {
	for i := range g.alts {
		a := &g.alts[i]
		switch {
		case a.literal:
			if path == a.prefix {
				return true
			}
		case a.subtree:
			if path == a.prefix || (strings.HasPrefix(path, a.prefix) && len(path) > len(a.prefix) && (a.prefix == "/" || path[len(a.prefix)] == '/')) {
				return true
			}
		default:
			if strings.HasPrefix(path, a.prefix) && strings.HasSuffix(path, a.suffix) && a.re.MatchString(path) {
				return true
			}
		}
	}
	return false
}

const globMeta = "*?[{"

func compileAlt(p string) (globAlt, error) {
	if !strings.ContainsAny(p, globMeta) {
		return globAlt{prefix: p, literal: true}, nil
	}
	if base, ok := strings.CutSuffix(p, "/**"); ok && !strings.ContainsAny(base, globMeta) {
		if base == "" {
			base = "/"
		}
		return globAlt{prefix: base, subtree: true}, nil
	}
	a := globAlt{}
	a.prefix = p[:strings.IndexAny(p, globMeta)]
	if i := strings.LastIndexAny(p, globMeta+"]"); i >= 0 {
		a.suffix = p[i+1:]
	}
	// "**" may match nothing, so "/a/**/b" must match "/a/b" and "/a/**"
	// must match "/a": the prefix and suffix above stay valid filters.
	var re strings.Builder
	re.WriteString(`\A`)
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/' && strings.HasPrefix(p[i+1:], "**") && (i+3 == len(p) || p[i+3] == '/'):
			if i+3 == len(p) {
				// A trailing "/**" matches the directory itself too.
				re.WriteString(`(?:/.*)?`)
				i += 2
			} else {
				// "/**/" matches "/" or "/any/depth/".
				re.WriteString(`/(?:.*/)?`)
				i += 3
			}
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			i++
			re.WriteString(`.*`)
		case c == '*':
			re.WriteString(`[^/]*`)
		case c == '?':
			re.WriteString(`[^/]`)
		case c == '[':
			j := strings.IndexByte(p[i+1:], ']')
			if j < 0 {
				return a, fmt.Errorf("unclosed [")
			}
			class := p[i+1 : i+1+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			re.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString(`\z`)
	r, err := regexp.Compile(re.String())
	if err != nil {
		return a, err
	}
	a.re = r
	return a, nil
}

// expandBraces turns "/bin/{ssh,ps}" into "/bin/ssh" and "/bin/ps".
func expandBraces(p string) ([]string, error) {
	open := strings.IndexByte(p, '{')
	if open < 0 {
		if strings.ContainsRune(p, '}') {
			return nil, fmt.Errorf("unmatched }")
		}
		return []string{p}, nil
	}
	depth := 0
	closeAt := -1
	var parts []string
	last := open + 1
	for i := open; i < len(p); i++ {
		switch p[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				closeAt = i
			}
		case ',':
			if depth == 1 {
				parts = append(parts, p[last:i])
				last = i + 1
			}
		}
		if closeAt >= 0 {
			break
		}
	}
	if closeAt < 0 {
		return nil, fmt.Errorf("unclosed {")
	}
	parts = append(parts, p[last:closeAt])
	var out []string
	for _, part := range parts {
		rest, err := expandBraces(p[:open] + part + p[closeAt+1:])
		if err != nil {
			return nil, err
		}
		out = append(out, rest...)
	}
	return out, nil
}
