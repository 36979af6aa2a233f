//! The browser's `WebSocket` as a stream of [`SocketEvent`]s: opened, a frame, closed.
//! The handlers are removed when the socket is dropped, so a late event of an old
//! socket never reaches a new link.

use futures_channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

/// What the socket reports.
pub(crate) enum SocketEvent {
    Open,
    Frame(Vec<u8>),
    Closed(String),
}

/// An open (or opening) socket with its handlers.
pub(crate) struct Socket {
    pub(crate) ws: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

impl Socket {
    /// Opens `url`; its events arrive on the receiver.
    pub(crate) fn open(url: &str) -> Result<(Socket, UnboundedReceiver<SocketEvent>), String> {
        let ws = WebSocket::new(url).map_err(|e| format!("cannot open the WebSocket: {e:?}"))?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let (tx, rx) = unbounded();
        let send = |tx: &UnboundedSender<SocketEvent>, e| {
            let _ = tx.unbounded_send(e);
        };
        let t = tx.clone();
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_| send(&t, SocketEvent::Open));
        let t = tx.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |m: MessageEvent| {
            let data = m.data();
            let bytes = match data.as_string() {
                Some(text) => text.into_bytes(),
                None => js_sys::Uint8Array::new(&data).to_vec(),
            };
            send(&t, SocketEvent::Frame(bytes));
        });
        let t = tx.clone();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |c: CloseEvent| {
            let why = if c.reason().is_empty() { String::new() } else { format!(": {}", c.reason()) };
            send(&t, SocketEvent::Closed(format!("the WebSocket closed (code {}{why})", c.code())));
        });
        let t = tx;
        let on_error = Closure::<dyn FnMut(Event)>::new(move |_| {
            send(&t, SocketEvent::Closed("the WebSocket failed (refused, unreachable or TLS error)".into()))
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let socket = Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
            _on_error: on_error,
        };
        Ok((socket, rx))
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}
