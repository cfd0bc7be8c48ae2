package audit

import (
	"errors"
	"fmt"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

// celEnv declares the one variable CEL rules see: event, the Kubernetes
// audit event as a map.
func celEnv() (*cel.Env, error) {
	env, err := cel.NewEnv(cel.Variable("event", cel.MapType(cel.StringType, cel.DynType)))
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	return env, nil
}

// compileCEL compiles an expression that must be a boolean.
func compileCEL(env *cel.Env, expr string) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, errors.New(firstLine(iss.Err().Error()))
	}
	if !ast.OutputType().IsExactType(types.BoolType) && !ast.OutputType().IsExactType(types.DynType) {
		return nil, fmt.Errorf("the expression is a %s, not a bool", ast.OutputType())
	}
	prg, err := env.Program(ast)
	if err != nil {
		return nil, err
	}
	return prg, nil
}

// evalCEL runs a rule on an event. An error (a field the event does not
// have: guard with has()) is no match.
func evalCEL(prg cel.Program, event map[string]any) bool {
	if event == nil {
		return false
	}
	out, _, err := prg.Eval(map[string]any{"event": event})
	if err != nil {
		return false
	}
	b, ok := out.Value().(bool)
	return ok && b
}

func firstLine(s string) string {
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
