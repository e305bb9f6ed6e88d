//! A slot on the engine for data derived from the store and kept in memory
//! by a module above the engine (the market map's snapshot). The engine
//! holds it without knowing its type, so `engine` does not depend on the
//! modules that use it (they depend on the engine).

use std::any::Any;
use std::sync::{Arc, Mutex};

/// One derived value of any type, shared.
#[derive(Default)]
pub struct Derived(Mutex<Option<Arc<dyn Any + Send + Sync>>>);

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Derived")
    }
}

impl Derived {
    /// The value kept, if it is a `T`.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let held = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
        held.downcast::<T>().ok()
    }

    /// Keeps `value` in place of what was there.
    pub fn set<T: Any + Send + Sync>(&self, value: Arc<T>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_read_back_as_its_own_type_only() {
        let d = Derived::default();
        assert!(d.get::<u32>().is_none());
        d.set(Arc::new(7u32));
        assert_eq!(d.get::<u32>().as_deref(), Some(&7));
        assert!(d.get::<String>().is_none(), "another type is not there");
    }
}
