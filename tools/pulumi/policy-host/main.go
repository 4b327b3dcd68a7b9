// Command pulumi-language-python-policy runs a Python CrossGuard policy pack for the pinned
// pulumi CLI, in the pack's own virtualenv.
//
// Why it exists: the CLI (v3.274) starts a policy pack through its runtime's language host
// (RunPlugin). The only Python language host the module proxy serves is sdk/v3 v3.79.0's
// (see ../python-host/go.mod), whose RunPlugin predates policy packs: it ignores the pack's
// directory and runs python on an empty path in the project folder, which runs the project's
// own program. So a pack names this runtime instead (`runtime: python-policy` in
// PulumiPolicy.yaml), and this host does for it what newer Python hosts do: it answers the
// engine through the SDK's own PolicyProxy, waits for the stack's configuration, then starts
//
//	<virtualenv>/bin/python -u -m pulumi.policy <engine> <pack folder>
//
// with the stack's config, project, stack and dry-run in the environment (as pulumi.Config
// and pulumi_policy read them), and hands the engine's connection over to it.
//
// Only RunPlugin for analyzers is implemented; programs keep running on the python host.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// defaultVirtualenv is where the pack's environment lives when PulumiPolicy.yaml names none.
const defaultVirtualenv = ".venv"

func main() {
	// Accepted like every plugin's (-v and --logtostderr come with the SDK's logging).
	flag.String("tracing", "", "Emit tracing to a Zipkin-compatible tracing endpoint")
	flag.Parse()
	var engineAddress string
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[len(args)-1]
	}

	ctx, cancel := context.WithCancel(context.Background())
	if engineAddress != "" {
		// Exit with the engine: an orphaned host would keep the pack's process alive.
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancel); err != nil {
			cmdutil.Exit(fmt.Errorf("could not start the health check: %w", err))
		}
	}
	stop := make(chan bool)
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, &policyHost{})
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start the language host: %w", err))
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("the language host stopped: %w", err))
	}
}

type policyHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
}

func (h *policyHost) Handshake(
	context.Context, *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *policyHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// RunPlugin starts a policy pack: the proxy answers the engine until the stack's
// configuration arrives, then the pack runs with it and the proxy forwards to the pack.
func (h *policyHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	if req.Kind != string(apitype.AnalyzerPlugin) {
		return fmt.Errorf("the python-policy runtime runs policy packs only, not %q plugins", req.Kind)
	}
	info := req.GetInfo()
	if info == nil || info.ProgramDirectory == "" {
		return errors.New("the engine did not say where the policy pack is")
	}
	python, err := packPython(info)
	if err != nil {
		return err
	}

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	ctx := server.Context()
	proxy, stdout, err := sdk.NewPolicyProxy(ctx, stdout)
	if err != nil {
		return fmt.Errorf("could not start the policy pack proxy: %w", err)
	}
	config, err := proxy.AwaitConfiguration(ctx)
	if err != nil {
		return fmt.Errorf("could not get the stack's configuration: %w", err)
	}
	env, err := packEnvironment(req.Env, python, config)
	if err != nil {
		proxy.Abort(err)
		return err
	}

	args := append([]string{"-u", "-m", "pulumi.policy"}, req.Args...)
	cmd := exec.Command(python, append(args, info.ProgramDirectory)...)
	cmd.Dir = req.Pwd
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		proxy.Abort(err)
		return fmt.Errorf("could not start the policy pack with %s: %w", python, err)
	}
	if err := proxy.Attach(ctx, cmd); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if status, ok := exit.Sys().(syscall.WaitStatus); ok {
				return server.Send(&pulumirpc.RunPluginResponse{
					Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(status.ExitStatus())},
				})
			}
		}
		return err
	}
	return closer.Close()
}

// packPython is the interpreter of the pack's virtualenv (runtime option `virtualenv`,
// relative to the pack's folder; default .venv), which must exist.
func packPython(info *pulumirpc.ProgramInfo) (string, error) {
	venv := defaultVirtualenv
	if option := info.GetOptions().GetFields()["virtualenv"].GetStringValue(); option != "" {
		venv = option
	}
	if !filepath.IsAbs(venv) {
		venv = filepath.Join(info.ProgramDirectory, venv)
	}
	python := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(python); err != nil {
		return "", fmt.Errorf(
			"the policy pack's environment %s is missing: run `make setup` (it syncs the pack's "+
				"uv.lock into it)", venv)
	}
	return python, nil
}

// packEnvironment is the engine's environment for the pack, with its virtualenv activated and
// the stack's identity and configuration where the Python SDK reads them.
func packEnvironment(
	base []string, python string, config *pulumirpc.AnalyzerStackConfigureRequest,
) ([]string, error) {
	venv := filepath.Dir(filepath.Dir(python))
	env := make([]string, 0, len(base)+8)
	path := venv + "/bin"
	for _, entry := range base {
		key, value, _ := strings.Cut(entry, "=")
		switch key {
		case "PYTHONHOME", "VIRTUAL_ENV", "PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS":
			continue
		case "PATH":
			path += string(os.PathListSeparator) + value
			continue
		}
		env = append(env, entry)
	}
	env = append(env, "PATH="+path, "VIRTUAL_ENV="+venv)
	if config == nil {
		return env, nil
	}
	set := func(key, value string) {
		if value != "" {
			env = append(env, key+"="+value)
		}
	}
	set("PULUMI_ORGANIZATION", config.Organization)
	set("PULUMI_PROJECT", config.Project)
	set("PULUMI_STACK", config.Stack)
	set("PULUMI_DRY_RUN", strconv.FormatBool(config.DryRun))
	if len(config.Config) > 0 {
		values, err := json.Marshal(config.Config)
		if err != nil {
			return nil, fmt.Errorf("could not encode the stack's configuration: %w", err)
		}
		set("PULUMI_CONFIG", string(values))
	}
	if len(config.ConfigSecretKeys) > 0 {
		keys, err := json.Marshal(config.ConfigSecretKeys)
		if err != nil {
			return nil, fmt.Errorf("could not encode the stack's secret keys: %w", err)
		}
		set("PULUMI_CONFIG_SECRET_KEYS", string(keys))
	}
	return env, nil
}
