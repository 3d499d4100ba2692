# bash completion for lbctl(8): objects, commands, keywords, and the VIPs
# and backends of the running lbd (`lbctl vip show`, through the socket
# given with -s or LBCTL_SOCKET).

# _lbctl_query ARGS...: lbctl with the socket of the command line being completed
_lbctl_query()
{
	local i sock=
	for ((i = 1; i < ${#words[@]} - 1; i++)); do
		[[ ${words[i]} == -s ]] && sock=${words[i + 1]}
	done
	if [[ -n $sock ]]; then
		lbctl -s "$sock" "$@" 2>/dev/null
	else
		lbctl "$@" 2>/dev/null
	fi
}

# the VIPs lbd has: the lines of `vip show` that do not start with a space
_lbctl_vips()
{
	_lbctl_query vip show | awk '/^[^ ]/ { print $1 }'
}

# the backends of VIP $1: the indented lines of `vip show VIP`
_lbctl_backends()
{
	_lbctl_query vip show "$1" | awk '/^ / { print $1 }'
}

_lbctl()
{
	local cur prev words cword
	_init_completion -n : || return

	# skip the options: -s SOCKET, -j
	local i=1
	while ((i < cword)); do
		case ${words[i]} in
		-s) ((i += 2)) ;;
		-*) ((i++)) ;;
		*) break ;;
		esac
	done
	if [[ $prev == -s ]]; then
		_filedir
		return
	fi
	if ((i == cword)); then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '-s -j --json -h --help' -- "$cur"))
		else
			COMPREPLY=($(compgen -W 'vip backend node sync stats top flows flow save restore help' -- "$cur"))
		fi
		return
	fi

	local obj=${words[i]} verb=${words[i + 1]:-} n=$((cword - i)) list=
	case $obj in
	vip)
		case $n in
		1) list='add del show help' ;;
		2) [[ $verb == del || $verb == show ]] && list=$(_lbctl_vips) ;;
		*) if [[ $verb == add ]]; then
			case $prev in
			method) list='l2 ipip gue' ;;
			check) list='none tcp http' ;;
			src) list='hash' ;;
			ring | interval | timeout | fall | rise | need | http) list= ;;
			*) list='method ring check interval timeout fall rise src need' ;;
			esac
		fi ;;
		esac
		;;
	backend)
		case $n in
		1) list='add set del help' ;;
		2) [[ $verb == add || $verb == set || $verb == del ]] && list=$(_lbctl_vips) ;;
		3) [[ $verb == set || $verb == del ]] && list=$(_lbctl_backends "${words[i + 2]}") ;;
		4) [[ $verb == add || $verb == set ]] && list=weight ;;
		esac
		;;
	node)
		((n == 1)) && list='drain undrain show help'
		;;
	sync)
		((n == 1)) && list='show help'
		;;
	flow)
		case $n in
		1) list='lookup help' ;;
		2) [[ $verb == lookup ]] && list=$(_lbctl_vips) ;;
		esac
		;;
	stats)
		((n == 1)) && list=$(_lbctl_vips)
		;;
	flows)
		case $prev in
		top) list= ;;
		flows) list="$(_lbctl_vips) top" ;;
		*) list=top ;;
		esac
		;;
	top)
		case $prev in
		interval | count) list= ;;
		top) list="$(_lbctl_vips) interval count" ;;
		*) list='interval count' ;;
		esac
		;;
	restore)
		((n == 1)) && { _filedir; return; }
		;;
	help)
		((n == 1)) && list='vip backend node sync stats top flows flow save restore'
		;;
	esac
	COMPREPLY=($(compgen -W "$list" -- "$cur"))
	__ltrim_colon_completions "$cur"
} &&
	complete -F _lbctl lbctl
