// Record building: header, fixed fields at their layout offsets, then variable fields.
#include <fmt/format.h>

#include "compiler/codegen/probe_emitter.h"

namespace probe {

using plan::FieldType;
using plan::ValueRef;

void ProbeEmitter::emit_record() {
  out_.line("__u8 *e = pk_begin({});", probe_.id);
  out_.line("if (!e) return 0;");
  for (const auto& f : layout_.fields) {
    if (f.is_variable()) continue;
    const plan::Capture* c = capture(f.name);
    if (c->type == FieldType::kString) {  // comm
      out_.line("bpf_get_current_comm(e + {}, {});", f.offset, f.size);
      continue;
    }
    out_.line("*({} *)(e + {}) = {};", c_type(c->type), f.offset, value(c->value, c->type));
  }
  out_.line("__u32 off = {};", layout_.fixed_size);
  for (const auto& f : layout_.fields) {
    if (!f.is_variable()) continue;
    const plan::Capture* c = capture(f.name);
    if (c->type == FieldType::kBytes && stream_payload(*c))
      out_.line("off = pk_put_bytes(e, off, {} + pk_so.offset, pk_stream_len({}, &pk_so), PK_FIELD_CFG({}, {}, {}));",
                source_pointer(*c), capture_length(*c), c->max, probe_.id, memory_flag(*c));
    else if (c->type == FieldType::kBytes)
      out_.line("off = pk_put_bytes(e, off, {}, {}, PK_FIELD_CFG({}, {}, {}));", source_pointer(*c),
                capture_length(*c), c->max, probe_.id, memory_flag(*c));
    else
      out_.line("off = pk_put_str(e, off, {}, PK_FIELD_CFG({}, {}, {}));", source_pointer(*c), c->max,
                probe_.id, memory_flag(*c));
  }
  out_.line("return pk_submit(e, off, {});", probe_.id);
}

}  // namespace probe
