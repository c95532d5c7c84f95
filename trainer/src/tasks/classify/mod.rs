//! Text classifiers of 2 to 1,024 classes (IMDb sentiment is one): the
//! configuration ([`config`]), the data it names ([`data`]), batches
//! ([`batches`]), the objective and validation ([`objective`]), the run
//! ([`train`]), each using only those before it.

pub mod config;
pub mod data;
pub mod defaults;
pub mod batches;
pub mod objective;
pub mod train;

pub use batches::classifier_batch;
pub use config::{ClassifierConfig, Sizes};
pub use data::{classifier_data, classifier_examples, ClassifierData, TestPart};
pub use defaults::fit_to_data;
pub use objective::{class_outputs, evaluate_classifier};
pub use train::{evaluate_classifier_test, train_classifier, train_classifier_on};
