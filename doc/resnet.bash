# bash completion for resnet. The commands and options come from the tool itself
# (resnet --list-commands, resnet --list-options COMMAND), read from the same tables as its
# parser, so this file never falls behind; only the values of a few options are known here.
_resnet() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion -n = || return
    else
        cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    fi
    local tool=${words[0]} cmd="" i
    for ((i = 1; i < cword; i++)); do
        if [[ ${words[i]} != -* ]]; then cmd=${words[i]}; break; fi
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$("$tool" --list-commands 2>/dev/null) --help --version" -- "$cur"))
        return
    fi
    # --opt=value: complete the value
    if [[ $cur == --*=* ]]; then
        prev=${cur%%=*} cur=${cur#*=}
    fi
    case $prev in
        --tta) COMPREPLY=($(compgen -W "none flip 10crop multiscale" -- "$cur")); return ;;
        --kernels) COMPREPLY=($(compgen -W "auto c avx2 avx512" -- "$cur")); return ;;
        --precision) COMPREPLY=($(compgen -W "fp32 bf16" -- "$cur")); return ;;
        --variant) COMPREPLY=($(compgen -W "v1 v1.5" -- "$cur")); return ;;
        --norm) COMPREPLY=($(compgen -W "caffe torch" -- "$cur")); return ;;
        --method) COMPREPLY=($(compgen -W "mse minmax percentile" -- "$cur")); return ;;
        --weights | --head | -o | --output | --predictions | --labels | --report)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    local opts takes_value=""
    opts=$("$tool" --list-options "$cmd" 2>/dev/null) || return
    # an option that takes a value we know nothing about (-k N, --batch N): no completion
    while read -r name arg; do
        [[ $name == "$prev" && -n $arg ]] && takes_value=1
    done <<<"$opts"
    [[ -n $takes_value ]] && return
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(cut -d' ' -f1 <<<"$opts")" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o filenames -o bashdefault -F _resnet resnet
