#!/usr/bin/env python3
"""Generates chat_template_cases.json: expected renders of extra conversations (tool calls,
reasoning history, several system prompts, whitespace, thinking switches) made by executing the
real templates from ../shared/conformance with jinja2, configured as Hugging Face
apply_chat_template does (sandbox, trim_blocks, lstrip_blocks, loopcontrols, HF tojson).
These are the independent reference for tests/tokenizer/chat_template_test.cc.

usage: gen_chat_template_cases.py CONFORMANCE_DIR > chat_template_cases.json
"""
import json
import sys

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

# DeepSeek-V2(-Lite)-Chat template, written from deepseek-spec.md section 9.3 (no copy ships in the
# conformance data); it renders the spec's example string exactly.
V2_TEMPLATE = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\\n\\n' }}"
    "{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}"
    "{% elif message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

DS_BOS, DS_EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def render(template, messages, bos, eos, add_generation_prompt, extra_vars, tools):
    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    kwargs = dict(messages=messages, bos_token=bos, eos_token=eos, add_generation_prompt=add_generation_prompt)
    if tools is not None:
        kwargs["tools"] = tools
    kwargs.update(extra_vars)
    return env.from_string(template).render(**kwargs)


def for_template(tname, messages):
    """Baleen's ChatMessage has no null content: "" with tool calls stands for null. Qwen3's template
    needs a string (it raises on null), the DeepSeek ones test for null."""
    out = []
    for m in messages:
        m = dict(m)
        if tname == "qwen3" and m.get("content") is None:
            m["content"] = ""
        elif tname != "qwen3" and m.get("tool_calls") and m.get("content") == "":
            m["content"] = None
        out.append(m)
    return out


def call(cid, name, args):
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


WEATHER = '{"city": "Paris", "unit": "celsius"}'
TIME = '{"tz": "Asia/Tokyo"}'

CONVERSATIONS = {
    "basic": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Japan?"},
    ],
    "no_system": [
        {"role": "user", "content": "Hi"},
    ],
    "two_systems": [
        {"role": "system", "content": "Rule one."},
        {"role": "system", "content": "Rule two."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi there"},
    ],
    "reasoning_history": [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nSimple sum.\n</think>\n\n4"},
        {"role": "user", "content": "And 3+3?"},
    ],
    "double_think_close": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a</think>b</think>\n\nc"},
        {"role": "user", "content": "again"},
    ],
    "reasoning_last": [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nSimple sum.\n</think>\n\n4"},
    ],
    "whitespace_unicode": [
        {"role": "user", "content": "  héllo 世界\n "},
        {"role": "assistant", "content": "\t😀 ok \n"},
        {"role": "user", "content": "\u3000fullwidth space\u3000"},
    ],
    "empty_assistant": [
        {"role": "user", "content": "Say nothing."},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "Good."},
    ],
    "single_tool_call": [
        {"role": "system", "content": "You can call tools."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call("c1", "get_weather", WEATHER)]},
        {"role": "tool", "tool_call_id": "c1", "content": "22C, sunny"},
        {"role": "assistant", "content": "It is 22C and sunny."},
        {"role": "user", "content": "Thanks!"},
    ],
    "parallel_tool_calls_end_on_tool": [
        {"role": "user", "content": "Weather in Paris and time in Tokyo?"},
        {"role": "assistant", "content": None,
         "tool_calls": [call("c1", "get_weather", WEATHER), call("c2", "get_time", TIME)]},
        {"role": "tool", "tool_call_id": "c1", "content": "22C"},
        {"role": "tool", "tool_call_id": "c2", "content": "09:00"},
    ],
    "two_tool_rounds": [
        {"role": "user", "content": "Plan my day."},
        {"role": "assistant", "content": None, "tool_calls": [call("c1", "get_weather", WEATHER)]},
        {"role": "tool", "tool_call_id": "c1", "content": "rain"},
        {"role": "assistant", "content": None, "tool_calls": [call("c2", "get_time", TIME)]},
        {"role": "tool", "tool_call_id": "c2", "content": "09:00"},
        {"role": "assistant", "content": "Take an umbrella at nine."},
        {"role": "user", "content": "ok"},
    ],
    "tool_call_with_content": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [call("c1", "get_weather", WEATHER)]},
        {"role": "tool", "tool_call_id": "c1", "content": "22C"},
        {"role": "assistant", "content": "22C."},
        {"role": "user", "content": "And tomorrow?"},
    ],
    "reasoning_content_field": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "reasoning_content": "Need a tool.",
         "tool_calls": [call("c1", "get_weather", WEATHER)]},
        {"role": "tool", "tool_call_id": "c1", "content": "22C"},
        {"role": "assistant", "content": "It is 22C.", "reasoning_content": "\nRead the result.\n"},
    ],
}

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city, e.g. \"Paris\"",
                                      "parameters": {"type": "object",
                                                     "properties": {"city": {"type": "string"},
                                                                    "days": {"type": "integer", "default": 1}},
                                                     "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "description": "Zeit / 時間",
                                      "parameters": {"type": "object", "properties": {}}}},
]

TOOL_CONVERSATIONS = {"single_tool_call", "parallel_tool_calls_end_on_tool", "two_tool_rounds",
                      "tool_call_with_content", "reasoning_content_field"}


def main():
    conf = sys.argv[1]

    def config(rel):
        with open(f"{conf}/{rel}", encoding="utf-8") as f:
            c = json.load(f)

        def tok(v):
            return v["content"] if isinstance(v, dict) else (v or "")
        return c["chat_template"], tok(c.get("bos_token")), tok(c.get("eos_token"))

    def jinja_file(rel):
        with open(f"{conf}/{rel}", encoding="utf-8") as f:
            return f.read(), DS_BOS, DS_EOS

    templates = {
        "deepseek-v3": ({"config": "tokenizers/deepseek-v3/tokenizer_config.json"},
                        config("tokenizers/deepseek-v3/tokenizer_config.json")),
        "deepseek-r1-distill-qwen": ({"config": "tokenizers/deepseek-r1-distill-qwen/tokenizer_config.json"},
                                     config("tokenizers/deepseek-r1-distill-qwen/tokenizer_config.json")),
        "deepseek-v3.1": ({"jinja": "tokenizers/chat-templates/deepseek-ai-DeepSeek-V3.1.jinja"},
                          jinja_file("tokenizers/chat-templates/deepseek-ai-DeepSeek-V3.1.jinja")),
        "qwen3": ({"config": "tokenizers/qwen3/tokenizer_config.json"},
                  config("tokenizers/qwen3/tokenizer_config.json")),
        "llama3": ({"config": "tokenizers/llama3/tokenizer_config.json"},
                   config("tokenizers/llama3/tokenizer_config.json")),
        "deepseek-v2": ({"text": V2_TEMPLATE}, (V2_TEMPLATE, DS_BOS, DS_EOS)),
    }
    variants = {
        "deepseek-v3.1": [{}, {"thinking": True}, {"enable_thinking": True}],
        "qwen3": [{}, {"enable_thinking": False}],
    }

    cases = []
    for tname, (source, (text, bos, eos)) in templates.items():
        for cname, messages in CONVERSATIONS.items():
            has_tools = cname in TOOL_CONVERSATIONS
            expect_error = None
            if has_tools and tname in ("deepseek-v2", "llama3"):
                expect_error = "template has no tool-call format"
            if cname == "tool_call_with_content" and tname in ("deepseek-v3", "deepseek-r1-distill-qwen"):
                expect_error = "template renders content or tool calls, not both"
            for extra in variants.get(tname, [{}]):
                for agp in (True, False):
                    case = {"template": tname, "conversation": cname,
                            "add_generation_prompt": agp, "extra_vars": extra, "bos_token": bos, "eos_token": eos}
                    if expect_error:
                        case["expect_error"] = expect_error
                    else:
                        case["rendered"] = render(text, for_template(tname, messages), bos, eos, agp, extra, None)
                    cases.append(case)
    for cname in ("basic", "single_tool_call", "parallel_tool_calls_end_on_tool"):
        text, bos, eos = templates["qwen3"][1]
        for agp in (True, False):
            cases.append({"template": "qwen3", "conversation": cname,
                          "add_generation_prompt": agp, "extra_vars": {}, "bos_token": bos, "eos_token": eos,
                          "tools": TOOLS, "rendered": render(text, for_template("qwen3", CONVERSATIONS[cname]), bos, eos, agp, {}, TOOLS)})

    out = {
        "note": "Generated by gen_chat_template_cases.py with python jinja2 " + jinja2.__version__ +
                " (HF-style sandbox, trim_blocks, lstrip_blocks, loopcontrols, HF tojson). "
                "expect_error marks conversations Baleen rejects by design instead of rendering.",
        "templates": {k: v[0] for k, v in templates.items()},
        "conversations": CONVERSATIONS,
        "cases": cases,
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
