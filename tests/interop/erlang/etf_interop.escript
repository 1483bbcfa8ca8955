#!/usr/bin/env escript
%% -*- erlang -*-
%% Erlang side of codec/tests/etf_interop.rs. Files hold length-prefixed
%% binaries: <<Len:32/big, Bytes:Len/binary>>, one after another.
%%
%%   gen SEED COUNT OUT        random terms (every tag, several encodings)
%%   check ORIG OURS           binary_to_term(Ours) =:= binary_to_term(Orig), pairwise
%%   reverse IN               IN holds pairs (our bytes, Erlang expression text):
%%                            binary_to_term(Bytes) =:= eval(Text)
%%   funs OUT                  executable terms as OTP writes them
%%   safe KNOWN CORPUS OUT     create the atoms in KNOWN (one per line), then
%%                            write one verdict byte per corpus entry:
%%                            $1 if binary_to_term(B, [safe]) accepts it, $0 if not
-mode(compile).

main(["gen", Seed, Count, Out]) ->
    rand:seed(exsss, {list_to_integer(Seed), 17, 4711}),
    %% Atoms come from fixed pools, so the atom table stays small.
    put(ascii, pool(300, fun() -> [$a + rand:uniform(26) - 1 || _ <- seq(30)] end)),
    put(unicode, pool(100, fun() -> [160 + rand:uniform(2000) || _ <- lists:seq(1, rand:uniform(10))] end)),
    %% Over 255 bytes of UTF-8 (but at most 255 characters): ATOM_UTF8_EXT.
    put(long, pool(5, fun() -> [945 + rand:uniform(20) || _ <- lists:seq(1, 130 + rand:uniform(120))] end)),
    put(latin1, pool(100, fun() -> [159 + rand:uniform(96) || _ <- lists:seq(1, rand:uniform(10))] end)),
    N = list_to_integer(Count),
    Bins = lists:append([encodings(I, gen(4)) || I <- lists:seq(1, N)]),
    ok = write_all(Out, Bins),
    io:format("wrote ~b binaries~n", [length(Bins)]);
main(["check", Orig, Ours]) ->
    A = read_all(Orig),
    B = read_all(Ours),
    length(A) =:= length(B) orelse fail("count ~b vs ~b", [length(A), length(B)]),
    Bad = [{I, X, Y} || {I, X, Y} <- lists:zip3(lists:seq(1, length(A)), A, B),
                        binary_to_term(X) =/= binary_to_term(Y)],
    report(length(A), Bad);
main(["reverse", In]) ->
    Pairs = pairs(read_all(In)),
    Bad = [{I, Bin, Text} || {I, {Bin, Text}} <- lists:zip(lists:seq(1, length(Pairs)), Pairs),
                             binary_to_term(Bin) =/= eval(Text)],
    report(length(Pairs), Bad);
main(["funs", Out]) ->
    Y = rand:uniform(10),
    Funs = [fun() -> ok end, fun(X) -> X + Y end, fun erlang:node/0, fun lists:reverse/1,
            fun no_such_module:f/3],
    ok = write_all(Out, [term_to_binary(F) || F <- Funs] ++ [term_to_binary({ok, [fun erlang:self/0]})]);
main(["safe", Known, Corpus, Out]) ->
    {ok, Names} = file:read_file(Known),
    _ = [binary_to_atom(L, utf8) || L <- binary:split(Names, <<"\n">>, [global]), L =/= <<>>],
    Verdicts = [verdict(B) || B <- read_all(Corpus)],
    ok = file:write_file(Out, Verdicts);
main(Args) ->
    fail("bad arguments ~p", [Args]).

verdict(B) ->
    try binary_to_term(B, [safe]) of _ -> $1 catch error:badarg -> $0 end.

report(N, []) ->
    io:format("ok ~b~n", [N]);
report(N, Bad) ->
    [io:format("mismatch #~b:~n  ~p~n  ~p~n", [I, X, Y]) || {I, X, Y} <- lists:sublist(Bad, 5)],
    fail("~b of ~b differ", [length(Bad), N]).

fail(Fmt, Args) ->
    io:format(standard_error, Fmt ++ "~n", Args),
    halt(1).

%% ----- files -----

write_all(Path, Bins) ->
    file:write_file(Path, [[<<(byte_size(B)):32>>, B] || B <- Bins]).

read_all(Path) ->
    {ok, Data} = file:read_file(Path),
    split(Data, []).

split(<<>>, Acc) -> lists:reverse(Acc);
split(<<Len:32, B:Len/binary, Rest/binary>>, Acc) -> split(Rest, [B | Acc]).

pairs([A, B | Rest]) -> [{A, B} | pairs(Rest)];
pairs([]) -> [].

eval(Text) ->
    {ok, Tokens, _} = erl_scan:string(unicode:characters_to_list(Text) ++ "."),
    {ok, Exprs} = erl_parse:parse_exprs(Tokens),
    {value, V, _} = erl_eval:exprs(Exprs, erl_eval:new_bindings()),
    V.

%% ----- random terms -----

%% OTP 25's default encoding, minor_version 2 (UTF-8 atoms), and every
%% third term compressed as well.
encodings(I, T) ->
    Plain = [term_to_binary(T), term_to_binary(T, [{minor_version, 2}])],
    case I rem 3 of
        0 -> Plain ++ [term_to_binary(T, [{compressed, 6}]),
                       term_to_binary(T, [{compressed, 9}, {minor_version, 2}])];
        _ -> Plain
    end.

pool(N, F) -> list_to_tuple([list_to_atom(F()) || _ <- lists:seq(1, N)]).

pick(Pool) -> T = get(Pool), element(rand:uniform(tuple_size(T)), T).

%% Depth 4 at most; the big containers (over 32 map keys, over 255 tuple
%% elements) only near the top, so terms stay a few KiB.
gen(0) -> leaf();
gen(D) ->
    case rand:uniform(12) of
        N when N =< 4 -> leaf();
        5 -> [gen(D - 1) || _ <- seq(4)];
        6 -> list_to_tuple([gen(D - 1) || _ <- seq(4)]);
        7 -> maps:from_list([{gen(D - 2), gen(D - 1)} || _ <- seq(4)]);
        8 when D >= 3 -> maps:from_list([{leaf(), leaf()} || _ <- lists:seq(1, 33 + rand:uniform(40))]);
        9 -> improper(gen(D - 1), gen(0));
        10 -> [rand:uniform(256) - 1 || _ <- seq(40)];
        11 when D >= 3 -> list_to_tuple([leaf() || _ <- lists:seq(1, 250 + rand:uniform(20))]);
        12 -> [rand:uniform(5000) || _ <- seq(10)];
        _ -> gen(D - 1)
    end.

seq(Max) -> lists:seq(1, rand:uniform(Max + 1) - 1).


improper(Head, Tail) when is_list(Tail) -> [Head | {Tail}];
improper(Head, Tail) -> [Head | Tail].

sign() -> case rand:uniform(2) of 1 -> 1; 2 -> -1 end.

leaf() ->
    case rand:uniform(20) of
        1 -> rand:uniform(256) - 1;
        2 -> rand:uniform(1 bsl 32) - (1 bsl 31);
        3 -> sign() * (rand:uniform(1 bsl 64) bsl rand:uniform(100));
        4 -> sign() * ((1 bsl 31) + rand:uniform(1 bsl 33));
        5 -> (rand:uniform() - 0.5) * math:pow(10, rand:uniform(600) - 300);
        6 -> pick(ascii);
        7 -> pick(unicode);
        8 -> case rand:uniform(10) of 1 -> pick(long); _ -> pick(latin1) end;
        9 -> rand:bytes(rand:uniform(40) - 1);
        10 -> Bits = rand:uniform(7), <<(rand:bytes(rand:uniform(5) - 1))/binary, (rand:uniform(1 bsl Bits) - 1):Bits>>;
        11 -> self();
        12 -> make_ref();
        13 -> hd(erlang:ports());
        14 -> [];
        15 -> <<>>;
        16 -> lists:nth(rand:uniform(3), [true, false, nil]);
        17 -> sign() * (1 bsl (2100 + rand:uniform(100)));
        18 -> {};
        19 -> #{};
        20 -> unicode:characters_to_binary([rand:uniform(3000) || _ <- seq(10)])
    end.
