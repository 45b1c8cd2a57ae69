// The CEL oracle for test/ca-cel.test.ts: cel-go (the CEL implementation Kubernetes and cert-manager's
// approver-policy use) evaluates each case read from stdin (one JSON object per line: {"expr", "request"}),
// with `request` declared as map(string, dyn), and prints one line per case: the value in a canonical
// text form, or "error" when the expression does not compile or fails to evaluate.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

func canon(v ref.Val) string {
	switch v.Type() {
	case types.BoolType:
		return strconv.FormatBool(bool(v.(types.Bool)))
	case types.IntType:
		return "int(" + strconv.FormatInt(int64(v.(types.Int)), 10) + ")"
	case types.DoubleType:
		return "double(" + strconv.FormatFloat(float64(v.(types.Double)), 'g', -1, 64) + ")"
	case types.StringType:
		b, _ := json.Marshal(string(v.(types.String)))
		return string(b)
	case types.NullType:
		return "null"
	case types.ListType:
		l := v.(traits.Lister)
		n := int(l.Size().(types.Int))
		parts := make([]string, n)
		for i := 0; i < n; i++ {
			parts[i] = canon(l.Get(types.Int(i)))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case types.MapType:
		m := v.(traits.Mapper)
		it := m.Iterator()
		var parts []string
		for it.HasNext() == types.True {
			k := it.Next()
			parts = append(parts, canon(k)+": "+canon(m.Get(k)))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return "unsupported:" + v.Type().TypeName()
}

func main() {
	env, err := cel.NewEnv(cel.Variable("request", cel.MapType(cel.StringType, cel.DynType)))
	if err != nil {
		panic(err)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		var c struct {
			Expr    string         `json:"expr"`
			Request map[string]any `json:"request"`
		}
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			panic(err)
		}
		ast, iss := env.Compile(c.Expr)
		if iss.Err() != nil {
			fmt.Println("error")
			continue
		}
		prg, err := env.Program(ast)
		if err != nil {
			fmt.Println("error")
			continue
		}
		out, _, err := prg.Eval(map[string]any{"request": c.Request})
		if err != nil {
			fmt.Println("error")
			continue
		}
		fmt.Println(canon(out))
	}
}
