"""A model's chat template in the forms llama.cpp's users run it in: the parts of a rendered
conversation (system, user, assistant turns), Ollama's Go template and Modelfile, each checked by
rendering sample conversations both ways."""

from __future__ import annotations

import json

_MARK = {"system": "\u27e6tl-system\u27e7", "user": "\u27e6tl-user-{}\u27e7",
         "assistant": "\u27e6tl-assistant\u27e7"}



def _split(text: str, marks: list[str]) -> list[str]:
    pieces = []
    for m in marks:
        head, found, text = text.partition(m)
        if not found:
            raise ValueError(f"the template drops or rewrites message text ({m!r} not rendered)")
        pieces.append(head)
    return pieces + [text]



def chat_parts(render) -> dict:
    """Each role's prefix and suffix, the text before the first message, the generation prompt
    and any default system prompt, read off `render(messages, add_generation_prompt)`.
    Raises ValueError when the template is not of the prefix/content/suffix kind Ollama's
    templates express (the caller then writes no TEMPLATE)."""
    s, u1, u2, a = _MARK["system"], _MARK["user"].format(1), _MARK["user"].format(2), _MARK["assistant"]
    conv = [{"role": "system", "content": s}, {"role": "user", "content": u1},
            {"role": "assistant", "content": a}, {"role": "user", "content": u2}]
    p = _split(render(conv, True), [s, u1, a, u2])
    user_suffix = _split(render(conv, False), [s, u1, a, u2])[4]
    gen = p[4][len(user_suffix):]
    asst_prefix = p[2][len(user_suffix):]
    r = _split(render(conv[1:3], False), [u1, a])
    asst_suffix = r[2]
    user_prefix = p[3][len(asst_suffix):]
    sys_suffix = p[1][:len(p[1]) - len(user_prefix)]
    parts = {"user": (user_prefix, user_suffix), "assistant": (asst_prefix, asst_suffix),
             "generation": gen, "default_system": None}
    no_system = r[0]
    if no_system.startswith(p[0]) and no_system.endswith(sys_suffix + user_prefix) \
            and len(no_system) > len(p[0]) + len(sys_suffix + user_prefix):
        # the template injects a system prompt when the conversation has none
        parts["default_system"] = no_system[len(p[0]):len(no_system) - len(sys_suffix + user_prefix)]
        head = ""
        sys_prefix = p[0]
    else:
        head = no_system[:len(no_system) - len(user_prefix)]
        sys_prefix = p[0][len(head):]
    parts["head"], parts["system"] = head, (sys_prefix, sys_suffix)
    return parts



def render_parts(parts: dict, messages: list[dict]) -> str:
    """What Ollama renders from the derived template (and SYSTEM, when no system message)."""
    if parts["default_system"] is not None and not any(m["role"] == "system" for m in messages):
        messages = [{"role": "system", "content": parts["default_system"]}, *messages]
    out = parts["head"]
    for m in messages:
        prefix, suffix = parts[m["role"]]
        out += prefix + m["content"] + suffix
    return out + parts["generation"]



def _go_literal(text: str) -> str:
    # text/template copies literal text verbatim; only an action delimiter needs quoting
    return text if "{{" not in text and "}}" not in text else "{{ " + json.dumps(text) + " }}"



def ollama_template(parts: dict) -> str:
    branches = []
    for i, role in enumerate(("system", "user", "assistant")):
        prefix, suffix = parts[role]
        kw = "if" if i == 0 else "else if"
        branches.append(f'{{{{ {kw} eq .Role "{role}" }}}}{_go_literal(prefix)}{{{{ .Content }}}}'
                        f"{_go_literal(suffix)}")
    return (_go_literal(parts["head"]) + "{{ range .Messages }}" + "".join(branches)
            + "{{ end }}{{ end }}" + _go_literal(parts["generation"]))



def modelfile(gguf_name: str, render, samples: list[list[dict]], stops: list[str],
              temperature: float = 0.7, system: str = "") -> tuple[str, dict]:
    """An Ollama Modelfile for one GGUF: FROM, TEMPLATE and SYSTEM derived from the model's own
    chat template, PARAMETER stop from its EOS tokens. Returns the text and how the template was
    checked: the derived template must render every sample conversation exactly as the model's
    template does; if it cannot, the TEMPLATE line is left out (Ollama then reads the GGUF's).
    `system`: the system prompt the model was trained with; SYSTEM is then that one, not the
    template's default (Ollama sends SYSTEM whenever a request has no system message)."""
    lines = [f"FROM ./{gguf_name}"]
    try:
        parts = chat_parts(render)
        bad = [i for i, m in enumerate(samples) if render_parts(parts, m) != render(m, True)]
        if bad:
            raise ValueError(f"the derived template renders {len(bad)} of {len(samples)} "
                             "conversations differently")
    except Exception as e:  # noqa: BLE001 - a template that raises on a sample is a finding too
        info = {"template": False, "reason": f"{type(e).__name__}: {e}"}
    else:
        lines.append(f'TEMPLATE """{ollama_template(parts)}"""')
        if not system and parts["default_system"] is not None:
            lines.append(f'SYSTEM """{parts["default_system"]}"""')
        info = {"template": True, "conversations_checked": len(samples)}
    if system:  # with the GGUF's own template too, when the derived one is left out
        lines.append(f'SYSTEM """{system}"""')
    lines += [f'PARAMETER stop "{s}"' for s in stops]
    lines.append(f"PARAMETER temperature {temperature}")
    return "\n".join(lines) + "\n", info



def hf_render(tok):
    """render(messages, add_generation_prompt) with the HF tokenizer's own chat template."""
    return lambda messages, gen: tok.apply_chat_template(messages, tokenize=False,
                                                         add_generation_prompt=gen)
