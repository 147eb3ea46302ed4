//! `twip-wasm-tool component IN.wasm OUT.wasm` — wraps a core module that
//! carries its `component-type` custom section into a component (what
//! `wasm-tools component new` does, without its long build).
//!
//! `twip-wasm-tool c-bindings WIT_DIR WORLD OUT_DIR` — writes the C guest
//! bindings of WORLD (what `wit-bindgen c` does).
//!
//! `twip-wasm-tool imports IN.wasm` — lists a core module's imports (the
//! build refuses guests that import anything, e.g. WASI).

use anyhow::{bail, Context, Result};
use std::path::Path;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["component", input, output] => component(input, output),
        ["c-bindings", wit, world, out] => c_bindings(wit, world, out),
        _ => bail!(
            "usage: twip-wasm-tool component IN.wasm OUT.wasm\n       twip-wasm-tool c-bindings WIT_DIR WORLD OUT_DIR"
        ),
    }
}

fn component(input: &str, output: &str) -> Result<()> {
    let module = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    let bytes = wit_component::ComponentEncoder::default()
        .module(&module)
        .with_context(|| format!("{input}: not a core module with component-type metadata"))?
        .validate(true)
        .encode()
        .with_context(|| format!("{input}: cannot make a component"))?;
    std::fs::write(output, bytes).with_context(|| format!("writing {output}"))?;
    Ok(())
}

fn c_bindings(wit: &str, world: &str, out: &str) -> Result<()> {
    use wit_bindgen_core::wit_parser::Resolve;
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve
        .push_path(wit)
        .with_context(|| format!("parsing {wit}"))?;
    let world = resolve.select_world(&[pkg], Some(world))?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)?;
    let out = Path::new(out);
    std::fs::create_dir_all(out)?;
    for (name, contents) in files.iter() {
        std::fs::write(out.join(name), contents).with_context(|| format!("writing {name}"))?;
    }
    Ok(())
}
