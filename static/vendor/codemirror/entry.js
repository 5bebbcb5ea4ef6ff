// The few CodeMirror 6 pieces the exercise page needs, as one global `CM`.
export { EditorView, basicSetup } from "codemirror";
export { python } from "@codemirror/lang-python";
export { EditorState } from "@codemirror/state";
export { keymap } from "@codemirror/view";
export { indentWithTab } from "@codemirror/commands";
export { setDiagnostics, lintGutter } from "@codemirror/lint";
