"""Optimizers written from their update equations, with torch's machinery around them.

``Optimizer`` (the base class) holds parameter groups, lazy state, ``state_dict`` and
validation; each method is one small class whose ``update`` reads like its algorithm.
``create(name, params, **hp)`` builds one by name.
"""

from tinygrad_opt.optim import lr_scheduler
from tinygrad_opt.optim.adabelief import AdaBelief
from tinygrad_opt.optim.adadelta import Adadelta
from tinygrad_opt.optim.adafactor import Adafactor
from tinygrad_opt.optim.adagrad import Adagrad
from tinygrad_opt.optim.adam import Adam, AdamW
from tinygrad_opt.optim.adamax import Adamax
from tinygrad_opt.optim.adan import Adan
from tinygrad_opt.optim.ademamix import AdEMAMix
from tinygrad_opt.optim.adopt import ADOPT
from tinygrad_opt.optim.asgd import ASGD
from tinygrad_opt.optim.clip import clip_grad_norm_, clip_grad_value_, total_grad_norm
from tinygrad_opt.optim.dadaptation import DAdaptAdam, DAdaptSGD
from tinygrad_opt.optim.fromage import Fromage
from tinygrad_opt.optim.lamb import LAMB
from tinygrad_opt.optim.lars import LARS
from tinygrad_opt.optim.lbfgs import LBFGS
from tinygrad_opt.optim.lion import Lion
from tinygrad_opt.optim.lookahead import Lookahead
from tinygrad_opt.optim.muon import Muon, split_muon_params
from tinygrad_opt.optim.nadam import NAdam
from tinygrad_opt.optim.novograd import NovoGrad
from tinygrad_opt.optim.optimizer import Optimizer, available, create, lookup, register
from tinygrad_opt.optim.prodigy import Prodigy
from tinygrad_opt.optim.radam import RAdam
from tinygrad_opt.optim.rmsprop import RMSprop
from tinygrad_opt.optim.rprop import Rprop
from tinygrad_opt.optim.sam import SAM
from tinygrad_opt.optim.schedule_free import ScheduleFreeAdamW, ScheduleFreeSGD
from tinygrad_opt.optim.sgd import SGD
from tinygrad_opt.optim.shampoo import Shampoo
from tinygrad_opt.optim.sign import SignSGD, Signum
from tinygrad_opt.optim.sm3 import SM3
from tinygrad_opt.optim.soap import SOAP
from tinygrad_opt.optim.sophia import SophiaBase, SophiaG, SophiaH
from tinygrad_opt.optim.textbook import (
    TextbookAdaGrad,
    TextbookAdam,
    TextbookMomentum,
    TextbookNesterov,
    TextbookRMSProp,
    TextbookRMSPropNesterov,
    TextbookSGD,
)
from tinygrad_opt.optim.wrapper import Wrapper
from tinygrad_opt.optim.yogi import Yogi

__all__ = [
    "ADOPT",
    "ASGD",
    "LAMB",
    "LBFGS",
    "LARS",
    "SAM",
    "SGD",
    "AdEMAMix",
    "AdaBelief",
    "SM3",
    "SOAP",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Adan",
    "DAdaptAdam",
    "DAdaptSGD",
    "Fromage",
    "Lion",
    "Lookahead",
    "Muon",
    "NAdam",
    "NovoGrad",
    "Prodigy",
    "RAdam",
    "RMSprop",
    "Rprop",
    "ScheduleFreeAdamW",
    "ScheduleFreeSGD",
    "Shampoo",
    "SignSGD",
    "Signum",
    "SophiaBase",
    "SophiaG",
    "SophiaH",
    "Optimizer",
    "TextbookAdaGrad",
    "TextbookAdam",
    "TextbookMomentum",
    "TextbookNesterov",
    "TextbookRMSProp",
    "TextbookRMSPropNesterov",
    "TextbookSGD",
    "Wrapper",
    "Yogi",
    "available",
    "clip_grad_norm_",
    "clip_grad_value_",
    "create",
    "lookup",
    "lr_scheduler",
    "register",
    "split_muon_params",
    "total_grad_norm",
]
