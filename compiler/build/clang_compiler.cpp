#include "compiler/build/clang_compiler.h"

#include <clang/Basic/Diagnostic.h>
#include <clang/Basic/DiagnosticOptions.h>
#include <clang/CodeGen/CodeGenAction.h>
#include <clang/Frontend/CompilerInstance.h>
#include <clang/Frontend/CompilerInvocation.h>
#include <clang/Frontend/TextDiagnosticPrinter.h>
#include <clang/Frontend/Utils.h>
#include <llvm/ADT/SmallVector.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/VirtualFileSystem.h>
#include <llvm/Support/raw_ostream.h>

#include "compiler/artifact/build_config.h"
#include "stdlib/stdlib.h"

namespace probe {
namespace {

constexpr const char* kIncludeDir = "/pk/include";
constexpr const char* kSourcePath = "/pk/prog.bpf.c";

llvm::IntrusiveRefCntPtr<llvm::vfs::InMemoryFileSystem> make_vfs(const std::string& source) {
  auto fs = llvm::makeIntrusiveRefCnt<llvm::vfs::InMemoryFileSystem>();
  // Embedded "bpf/<path>" files become "/pk/include/<path>".
  for (auto path : stdlib::list("bpf/")) {
    std::string virtual_path = std::string(kIncludeDir) + "/" + std::string(path.substr(4));
    fs->addFile(virtual_path, 0, llvm::MemoryBuffer::getMemBuffer(*stdlib::find(path), virtual_path));
  }
  fs->addFile(kSourcePath, 0, llvm::MemoryBuffer::getMemBufferCopy(source, kSourcePath));
  return fs;
}

}  // namespace

CompileOutput compile_bpf_c(const std::string& source) {
  LLVMInitializeBPFTargetInfo();
  LLVMInitializeBPFTarget();
  LLVMInitializeBPFTargetMC();
  LLVMInitializeBPFAsmPrinter();

  CompileOutput result;
  std::string diag_text;
  llvm::raw_string_ostream diag_stream(diag_text);
  auto diag_opts = llvm::makeIntrusiveRefCnt<clang::DiagnosticOptions>();
  auto* printer = new clang::TextDiagnosticPrinter(diag_stream, diag_opts.get());
  auto diags = llvm::makeIntrusiveRefCnt<clang::DiagnosticsEngine>(
      llvm::makeIntrusiveRefCnt<clang::DiagnosticIDs>(), diag_opts, printer);

  std::vector<std::string> args_storage = {"clang"};
  for (const auto& f : bpf_compile_flags()) args_storage.push_back(f);
  args_storage.push_back(std::string("-I") + kIncludeDir);
  args_storage.push_back("-c");
  args_storage.push_back(kSourcePath);
  std::vector<const char*> args;
  for (const auto& a : args_storage) args.push_back(a.c_str());

  auto vfs = make_vfs(source);
  clang::CreateInvocationOptions opts;
  opts.Diags = diags;
  opts.VFS = vfs;
  std::shared_ptr<clang::CompilerInvocation> invocation = clang::createInvocation(args, opts);
  if (!invocation || diags->hasErrorOccurred()) {
    diag_stream.flush();
    result.diagnostics = diag_text.empty() ? "cannot create a Clang invocation" : diag_text;
    return result;
  }
  // The driver asks for -disable-free; this process may outlive the compile.
  invocation->getFrontendOpts().DisableFree = false;

  clang::CompilerInstance compiler;
  compiler.setInvocation(std::move(invocation));
  compiler.createDiagnostics(new clang::TextDiagnosticPrinter(diag_stream, diag_opts.get()), true);
  compiler.createFileManager(vfs);
  llvm::SmallVector<char, 0> object;
  compiler.setOutputStream(std::make_unique<llvm::raw_svector_ostream>(object));

  clang::EmitObjAction action;
  bool ok = compiler.ExecuteAction(action);
  diag_stream.flush();
  result.diagnostics = diag_text;
  result.ok = ok && !compiler.getDiagnostics().hasErrorOccurred() && !object.empty();
  if (result.ok) result.object.assign(object.data(), object.size());
  return result;
}

}  // namespace probe
