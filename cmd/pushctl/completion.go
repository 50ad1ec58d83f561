package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"
)

func completionCommand() *command {
	return &command{
		name: "completion", args: "bash|zsh",
		summary: "print a shell completion script: source <(pushctl completion bash), or for zsh: source <(pushctl completion zsh)",
		minArgs: 1, maxArgs: 1,
		setup: func(c *cli, _ *flag.FlagSet) func(context.Context, []string) error {
			return func(_ context.Context, args []string) error {
				switch args[0] {
				case "bash":
					fmt.Fprint(c.stdout, bashCompletion())
				case "zsh":
					fmt.Fprint(c.stdout, "autoload -U +X bashcompinit && bashcompinit\n"+bashCompletion())
				default:
					return usagef("completion: unknown shell %q (want bash or zsh)", args[0])
				}
				return nil
			}
		},
	}
}

// completionWords are, per command, the words that complete after it:
// "" holds the top-level words, "device" its verbs, "device get" its flags.
func completionWords() map[string][]string {
	words := map[string][]string{}
	globals := flagWords(func(fs *flag.FlagSet) { (&cli{}).registerGlobals(fs) })
	for _, cmd := range commands() {
		group, verb, isVerb := strings.Cut(cmd.name, " ")
		if isVerb {
			words[group] = append(words[group], verb)
		}
		if !isVerb || len(words[""]) == 0 || words[""][len(words[""])-1] != group {
			words[""] = append(words[""], group)
		}
		own := flagWords(func(fs *flag.FlagSet) { cmd.setup(&cli{}, fs) })
		words[cmd.name] = append(own, globals...)
		if cmd.name == "completion" {
			words[cmd.name] = []string{"bash", "zsh"}
		}
	}
	words[""] = append(words[""], "help")
	words[""] = append(words[""], globals...)
	return words
}

func flagWords(register func(*flag.FlagSet)) []string {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	register(fs)
	var out []string
	fs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) == 1 {
			out = append(out, "-"+f.Name)
		} else {
			out = append(out, "--"+f.Name)
		}
	})
	return out
}

// bashCompletion completes commands, verbs and each command's flags, and
// the values of --platform, --stage, --outcome and -o.
func bashCompletion() string {
	words := completionWords()
	keys := make([]string, 0, len(words))
	for k := range words {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(`# pushctl completion for bash (and zsh through bashcompinit)
_pushctl() {
    local cur prev cmd="" w i
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    case "$prev" in
        --platform) COMPREPLY=($(compgen -W "apns fcm mi hms webpush intents feedback" -- "$cur")); return ;;
        --stage) COMPREPLY=($(compgen -W "` + strings.Join(deadStages(), " ") + `" -- "$cur")); return ;;
        --outcome) COMPREPLY=($(compgen -W "delivered invalid_token token_replaced failed expired dead suppressed cancelled" -- "$cur")); return ;;
        -o|--output) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --file|--nats-creds|--nats-nkey|--nats-ca|--nats-cert|--nats-key) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    for ((i=1; i<COMP_CWORD; i++)); do
        w="${COMP_WORDS[i]}"
        [[ "$w" == -* ]] && continue
        if [[ -z "$cmd" ]]; then
            case "$w" in device|dead|send|tail|cancel|provision|completion|help) cmd="$w" ;; esac
        elif [[ "$cmd" == device || "$cmd" == dead ]]; then
            case "$cmd $w" in
`)
	for _, k := range keys {
		if strings.Contains(k, " ") {
			fmt.Fprintf(&b, "                %q) cmd=%q ;;\n", k, k)
		}
	}
	b.WriteString(`            esac
        fi
    done
    local words
    case "$cmd" in
`)
	for _, k := range keys {
		fmt.Fprintf(&b, "        %q) words=%q ;;\n", k, strings.Join(words[k], " "))
	}
	b.WriteString(`    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _pushctl pushctl
`)
	return b.String()
}
