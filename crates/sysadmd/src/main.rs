//! sysadmd: serves the sysadm/iocage API over REST and WebSocket.

fn main() {
    println!("sysadmd: the server is not built yet");
}
